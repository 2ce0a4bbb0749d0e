package auth0export

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ferry-dev/ferry/internal/httpx"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDownload(t *testing.T) {
	const text = "{\"user_id\":\"auth0|1\"}\n{\"user_id\":\"auth0|2\"}\n"
	var hits atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("download sent credentials")
		}
		if r.URL.Path == "/plain" {
			w.Write([]byte(text))
			return
		}
		w.Write(gz(t, text))
	}))
	defer ts.Close()
	for _, tc := range []struct {
		name, loc string
		max       int64
		want      string // error text part, "" for the file
		is        []error
	}{
		{name: "whole", loc: ts.URL + "/f.json.gz?Signature=s", max: 1 << 20},
		{name: "exactly the cap", loc: ts.URL + "/f.json.gz", max: int64(len(text))},
		{name: "one byte over", loc: ts.URL + "/f.json.gz", max: int64(len(text)) - 1,
			want: "auth0: export job job_1: decompressed export over the size cap of 43 bytes", is: []error{ErrDecompressedTooLarge, httpx.ErrTooLarge}},
		{name: "not gzip", loc: ts.URL + "/plain", max: 1 << 20, want: "auth0: export job job_1: file is not gzip"},
		{name: "foreign host", loc: "https://evil.example/f.json.gz", max: 1 << 20, want: "expected", is: []error{ErrHostile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			d := Download{Root: ts.URL, Overridden: true, MaxInflate: tc.max}
			f, err := d.Open(context.Background(), "job_1", tc.loc)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(f)
				f.Close()
			}
			if tc.want == "" {
				if err != nil || string(got) != text {
					t.Fatalf("read %q, %v; want the file", got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			for _, target := range tc.is {
				if !errors.Is(err, target) {
					t.Errorf("err %v does not match %v", err, target)
				}
			}
			if errors.Is(err, ErrHostile) && hits.Load() != before {
				t.Errorf("downloaded despite the refusal")
			}
		})
	}
}
