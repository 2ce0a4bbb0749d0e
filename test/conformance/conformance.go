// Package conformance is the contract every Source and every Sink keeps, written once, in
// the spirit of rclone's fstests: a connector passes it with a few lines of setup (how to
// open it, how many users it holds) and its own tests keep only what is particular to its
// provider. What the pipeline relies on is checked here: every record read exactly once
// (also across pages past the provider's caps and across a resume), one Result per Item in
// order, refusals that carry a reason, keys compared as the target compares them, upsert
// that writes nothing twice, and errors that never carry a credential.
package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ferry-dev/ferry/internal/core"
	"github.com/ferry-dev/ferry/schemas"
	"github.com/ferry-dev/ferry/transform"
	"github.com/segmentio/encoding/json"
)

// SourceCase is one Source under test.
type SourceCase struct {
	// Open returns a new Source over the same users each time it is called.
	Open func(t *testing.T) core.Source
	// Want is how many users the source holds: more than one page of the provider's, so
	// that paging is exercised.
	Want int
	// OpenBadCredentials, when set, opens the source with a wrong secret; the error it
	// then gives (from Open or from Users) must name none of Secrets.
	OpenBadCredentials func(t *testing.T) (core.Source, error)
	// Secrets are the credentials of the case.
	Secrets []string
	// OpenMalformed, when set, opens a source over good readable users and bad unreadable
	// records (not JSON, invalid UTF-8) mixed: each bad one must arrive as a Record of its
	// own with a Ref naming it (with Err, or with the bytes for the pipeline's check to
	// refuse), and the read must go on to the end.
	OpenMalformed func(t *testing.T) (src core.Source, good, bad int)
}

// errStop is what the suite's emit returns to end a read early.
var errStop = errors.New("conformance: stop")

// read collects what one call of src.Users yields, until stop says to stop.
func read(ctx context.Context, src core.Source, stop func(n int) bool) ([]core.Record, error) {
	var out []core.Record
	err := src.Users(ctx, func(r core.Record) error {
		out = append(out, r)
		if stop != nil && stop(len(out)) {
			return errStop
		}
		return nil
	})
	return out, err
}

// identity is what names a user across reads: the decoded user's id, else its userName.
func identity(t *testing.T, dec transform.Decoder, r core.Record) string {
	t.Helper()
	if r.Err != nil {
		t.Fatalf("%s: unreadable record in clean data: %v", r.Ref, r.Err)
	}
	if !json.Valid(r.Data) {
		t.Fatalf("%s: record is not one JSON value: %.80q", r.Ref, r.Data)
	}
	u, err := dec.Decode(r.Data)
	if err != nil {
		t.Fatalf("%s: %v", r.Ref, err)
	}
	switch {
	case u.ID != "":
		return "id:" + u.ID
	case u.ExternalID != "":
		return "ext:" + u.ExternalID
	case u.UserName != "":
		return "name:" + strings.ToLower(u.UserName)
	}
	t.Fatalf("%s: the user has no id, externalId or userName to tell it apart", r.Ref)
	return ""
}

// TestSource runs the Source contract.
func TestSource(t *testing.T, c SourceCase) {
	t.Helper()
	ctx := context.Background()
	var all []string
	t.Run("EveryRecordOnce", func(t *testing.T) {
		src := c.Open(t)
		dec, err := transform.DecoderFor(src.Format())
		if err != nil {
			t.Fatal(err)
		}
		recs, err := read(ctx, src, nil)
		if err != nil {
			t.Fatalf("Users: %v", err)
		}
		seen := map[string]string{}
		for _, r := range recs {
			if r.Ref == "" {
				t.Fatalf("a record without a Ref: rejects could not say which it was: %.80q", r.Data)
			}
			id := identity(t, dec, r)
			if prev, dup := seen[id]; dup {
				t.Fatalf("user %s read twice (%s and %s)", id, prev, r.Ref)
			}
			seen[id] = r.Ref
			all = append(all, id)
		}
		if len(recs) != c.Want {
			t.Fatalf("read %d records, the source holds %d", len(recs), c.Want)
		}
	})
	t.Run("Total", func(t *testing.T) {
		src := c.Open(t)
		ct, ok := src.(core.Counter)
		if !ok {
			t.Skip("not a core.Counter")
		}
		if n, ok := ct.Total(ctx); ok && n != int64(c.Want) {
			t.Fatalf("Total says %d, the source holds %d", n, c.Want)
		}
	})
	t.Run("ResumeAfterCursor", func(t *testing.T) {
		if len(all) != c.Want {
			t.Skip("EveryRecordOnce failed")
		}
		first := c.Open(t)
		if _, ok := first.(core.Resumer); !ok {
			t.Skip("not a core.Resumer")
		}
		dec, _ := transform.DecoderFor(first.Format())
		// Past the first page, not on its edge: the cursor must carry the position inside one.
		k := c.Want/2 + 1
		head, err := read(ctx, first, func(n int) bool { return n == k })
		if !errors.Is(err, errStop) {
			t.Fatalf("Users after emit failed: %v, want the emit error", err)
		}
		cursor := head[len(head)-1].Cursor
		if cursor == "" {
			t.Fatalf("%s: no Cursor on a Resumer's record", head[len(head)-1].Ref)
		}
		second := c.Open(t)
		if err := second.(core.Resumer).ResumeAfter(cursor); err != nil {
			t.Fatalf("ResumeAfter(%q): %v", cursor, err)
		}
		tail, err := read(ctx, second, nil)
		if err != nil {
			t.Fatalf("Users after ResumeAfter: %v", err)
		}
		got := map[string]int{}
		for _, r := range append(head, tail...) {
			got[identity(t, dec, r)]++
		}
		for _, id := range all {
			switch got[id] {
			case 0:
				t.Errorf("user %s lost across the resume", id)
			case 1:
			default:
				t.Errorf("user %s read %d times across the resume", id, got[id])
			}
		}
		if len(head)+len(tail) != c.Want {
			t.Errorf("read %d + %d records across the resume, the source holds %d", len(head), len(tail), c.Want)
		}
	})
	t.Run("EmitErrorEndsTheRead", func(t *testing.T) {
		_, err := read(ctx, c.Open(t), func(n int) bool { return n == 1 })
		if !errors.Is(err, errStop) {
			t.Fatalf("Users returned %v, want the error emit returned", err)
		}
	})
	t.Run("CancelEndsTheRead", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var after int
		err := c.Open(t).Users(cctx, func(core.Record) error {
			if cctx.Err() != nil {
				after++
			}
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Users after cancel returned %v, want context.Canceled", err)
		}
		// A source may hand over the rest of a page it already holds, not another page.
		if after > 1000 {
			t.Fatalf("%d records emitted after the context was cancelled", after)
		}
	})
	t.Run("UnreadableRecordsArriveWithReasons", func(t *testing.T) {
		if c.OpenMalformed == nil {
			t.Skip("no way to make the source hold unreadable records")
		}
		src, good, bad := c.OpenMalformed(t)
		recs, err := read(ctx, src, nil)
		if err != nil {
			t.Fatalf("Users stopped at an unreadable record: %v", err)
		}
		var nGood, nBad int
		for _, r := range recs {
			if r.Ref == "" {
				t.Fatalf("a record without a Ref: %.80q", r.Data)
			}
			if r.Err != nil || !json.Valid(r.Data) || !utf8.Valid(r.Data) {
				nBad++
				continue
			}
			nGood++
		}
		if nGood != good || nBad != bad {
			t.Fatalf("%d readable and %d unreadable records, want %d and %d", nGood, nBad, good, bad)
		}
	})
	t.Run("SecretsNotInErrors", func(t *testing.T) {
		if c.OpenBadCredentials == nil {
			t.Skip("no credentials")
		}
		src, err := c.OpenBadCredentials(t)
		if err == nil {
			_, err = read(ctx, src, nil)
		}
		if err == nil {
			t.Fatal("a wrong secret was accepted")
		}
		noSecrets(t, err, c.Secrets)
	})
}

func noSecrets(t *testing.T, err error, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("the error carries a secret: %v", err)
		}
	}
}

// SinkCase is one Sink under test. Each subtest opens its own empty target.
type SinkCase struct {
	// Open returns a Sink onto a new, empty target and a function that lists the users
	// the target then holds (its Source for the same endpoint, for a tenant).
	Open func(t *testing.T, upsert bool) (core.Sink, Target)
	// Users are the SCIM users to write: more than one batch's worth when the sink is
	// Batched, so that a Write is split as the pipeline splits it.
	Users []*schemas.User
	// Tenant says the target refuses a second user with the same key (a file does not).
	Tenant bool
	// OpenBadCredentials opens a sink onto a target with a wrong secret, when the case has
	// one, and names the secrets (the wrong one and the target's) no error may carry.
	OpenBadCredentials func(t *testing.T) (core.Sink, []string, error)
}

// Target reopens a sink's target for more writes (upsert as asked) and lists what it holds.
type Target interface {
	Reopen(t *testing.T, upsert bool) core.Sink
	// Users lists the users the target holds, as its Source reads them.
	Users(t *testing.T) []*schemas.User
}

// items encodes users for sink, batched as the sink's limits ask.
func items(t *testing.T, sink core.Sink, users []*schemas.User) [][]core.Item {
	t.Helper()
	enc, err := transform.EncoderFor(sink.Format())
	if err != nil {
		t.Fatal(err)
	}
	max := len(users)
	if b, ok := sink.(core.Batched); ok && b.BatchLimits().MaxCount > 0 && b.BatchLimits().MaxCount < max {
		max = b.BatchLimits().MaxCount
	}
	var out [][]core.Item
	var cur []core.Item
	for i, u := range users {
		data, err := enc.Encode(nil, u)
		if err != nil {
			t.Fatalf("encode user %s for %s: %v", u.UserName, sink.Format(), err)
		}
		raw, _ := json.Marshal(u)
		cur = append(cur, core.Item{Seq: int64(i), Ref: fmt.Sprintf("user %d", i), Raw: raw, User: u, Data: data})
		if len(cur) == max {
			out = append(out, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// write sends every batch and returns the Results in Item order, checking one per Item.
func write(t *testing.T, sink core.Sink, batches [][]core.Item) []core.Result {
	t.Helper()
	var out []core.Result
	for _, b := range batches {
		res, err := sink.Write(context.Background(), b)
		if err != nil {
			t.Fatalf("Write of %d users: %v", len(b), err)
		}
		if len(res) != len(b) {
			t.Fatalf("Write of %d users returned %d Results", len(b), len(res))
		}
		for i, r := range res {
			if r.Outcome == core.Rejected && r.Reason == "" {
				t.Fatalf("%s rejected without a reason", b[i].Ref)
			}
		}
		out = append(out, res...)
	}
	return out
}

// saysExists reports whether a rejection names the user's presence in the target.
func saysExists(reason string) bool {
	return strings.Contains(strings.ToLower(reason), "exist") || strings.Contains(reason, "409")
}

func closeSink(t *testing.T, s core.Sink) {
	t.Helper()
	if err := s.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// Key names a user the way every provider keeps it: the primary e-mail (Auth0 and App ID
// sign users in by it; a SCIM userName may be spelled otherwise there), else userName.
func Key(u *schemas.User) string {
	if e := u.PrimaryEmail(); e != "" {
		return strings.ToLower(e)
	}
	return strings.ToLower(u.UserName)
}

func keysOf(users []*schemas.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = Key(u)
	}
	return out
}

// sameSet reports the users want has and got lacks, and those got holds twice.
func sameSet(t *testing.T, what string, want, got []string) {
	t.Helper()
	n := map[string]int{}
	for _, k := range got {
		n[k]++
	}
	for _, k := range want {
		switch n[k] {
		case 0:
			t.Errorf("%s: user %s missing from the target", what, k)
		case 1:
		default:
			t.Errorf("%s: user %s held %d times", what, k, n[k])
		}
	}
	if len(got) != len(want) {
		t.Errorf("%s: the target holds %d users, want %d", what, len(got), len(want))
	}
}

// TestSink runs the Sink contract.
func TestSink(t *testing.T, c SinkCase) {
	t.Helper()
	t.Run("OneResultPerItem", func(t *testing.T) {
		sink, target := c.Open(t, false)
		res := write(t, sink, items(t, sink, c.Users))
		closeSink(t, sink)
		for i, r := range res {
			if r.Outcome != core.Created {
				t.Errorf("%s: %s (%s), want created", c.Users[i].UserName, r.Outcome, r.Reason)
			}
		}
		sameSet(t, "after one write", keysOf(c.Users), keysOf(target.Users(t)))
	})
	t.Run("UpsertWritesNothingTwice", func(t *testing.T) {
		sink, target := c.Open(t, true)
		write(t, sink, items(t, sink, c.Users))
		closeSink(t, sink)
		again := target.Reopen(t, true)
		for i, r := range write(t, again, items(t, again, c.Users)) {
			if r.Outcome == core.Rejected || r.Outcome == core.Created && c.Tenant {
				t.Errorf("%s written again with upsert: %s (%s)", c.Users[i].UserName, r.Outcome, r.Reason)
			}
		}
		closeSink(t, again)
		if c.Tenant {
			sameSet(t, "after a second write with upsert", keysOf(c.Users), keysOf(target.Users(t)))
		}
	})
	t.Run("ConflictRejectedWithReason", func(t *testing.T) {
		if !c.Tenant {
			t.Skip("a file holds every user it is given")
		}
		sink, target := c.Open(t, false)
		write(t, sink, items(t, sink, c.Users[:1]))
		closeSink(t, sink)
		// Another person under the same key: without --upsert that is a conflict, whatever
		// the sink knows of earlier runs.
		other := *c.Users[0]
		other.Name = &schemas.Name{GivenName: "Someone", FamilyName: "Else"}
		other.DisplayName = "Someone Else"
		again := target.Reopen(t, false)
		res := write(t, again, items(t, again, []*schemas.User{&other}))
		closeSink(t, again)
		if res[0].Outcome != core.Rejected {
			t.Fatalf("a second user under %s: %s, want rejected", other.UserName, res[0].Outcome)
		}
		if !saysExists(res[0].Reason) {
			t.Errorf("reason %q does not say the user exists", res[0].Reason)
		}
		// The pipeline asks a Verifier only about refusals marked so: unmarked, a crashed
		// run's own users would be reported as conflicts on resume.
		if !res[0].Exists {
			t.Errorf("refused as existing (%q) without Result.Exists", res[0].Reason)
		}
	})
	t.Run("VerifyReadsBack", func(t *testing.T) {
		sink, target := c.Open(t, false)
		if _, ok := sink.(core.Verifier); !ok {
			t.Skip("not a core.Verifier")
		}
		some := c.Users[:min(len(c.Users), 5)]
		write(t, sink, items(t, sink, some))
		closeSink(t, sink)
		again := target.Reopen(t, false)
		batch := items(t, again, some)[0]
		other := *some[0]
		other.DisplayName = "Someone Else 7f3a"
		other.Name = &schemas.Name{GivenName: "Someone", FamilyName: "Else"}
		batch = append(batch, items(t, again, []*schemas.User{&other})[0]...)
		vs, err := again.(core.Verifier).Verify(context.Background(), batch)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if len(vs) != len(batch) {
			t.Fatalf("Verify of %d users gave %d verdicts", len(batch), len(vs))
		}
		for i, v := range vs[:len(some)] {
			if !v.Found || !v.Same {
				t.Errorf("%s, written as is: found %v, same %v (%s)", some[i].UserName, v.Found, v.Same, v.Diff)
			}
		}
		if v := vs[len(some)]; !v.Found || v.Same || v.Diff == "" {
			t.Errorf("another person under %s: found %v, same %v, diff %q; want found, not same, a diff", other.UserName, v.Found, v.Same, v.Diff)
		} else if strings.Contains(v.Diff, "Someone") {
			t.Errorf("the diff carries values: %q", v.Diff)
		}
	})
	t.Run("KeyedAsTheTargetCompares", func(t *testing.T) {
		sink, _ := c.Open(t, false)
		k, ok := sink.(core.Keyed)
		if !ok {
			if c.Tenant {
				t.Fatal("a tenant sink that is not core.Keyed: two users of one run with one key would meet only in the target")
			}
			t.Skip("not core.Keyed")
		}
		u := *c.Users[0]
		attr, key := k.UserKey(&u)
		if key == "" {
			// The contract allows it: a target whose users belong to an identity
			// provider each (App ID profiles) has no key of its own to check.
			t.Skipf("UserKey(%s): no key for this target's users", u.UserName)
		}
		if attr == "" {
			t.Fatalf("UserKey(%s) = %q, %q: a key without the attribute's name", u.UserName, attr, key)
		}
		v := u
		v.UserName = strings.ToUpper(u.UserName)
		v.Emails = append([]schemas.MultiValued(nil), u.Emails...)
		for i := range v.Emails {
			v.Emails[i].Value = strings.ToUpper(v.Emails[i].Value)
		}
		if _, key2 := k.UserKey(&v); !strings.EqualFold(key, key2) {
			t.Fatalf("keys %q and %q of one user spelled in another case differ", key, key2)
		}
	})
	t.Run("SecretsNotInErrors", func(t *testing.T) {
		if c.OpenBadCredentials == nil {
			t.Skip("no credentials")
		}
		sink, secrets, err := c.OpenBadCredentials(t)
		if err == nil {
			batches := items(t, sink, c.Users[:1])
			var res []core.Result
			res, err = sink.Write(context.Background(), batches[0])
			if err == nil {
				if len(res) == 1 && res[0].Outcome == core.Rejected {
					err = errors.New(res[0].Reason)
				} else {
					t.Fatal("a wrong secret was accepted")
				}
			}
		}
		noSecrets(t, err, secrets)
	})
}
