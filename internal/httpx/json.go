package httpx

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/segmentio/encoding/json"
)

// DoJSON sends in (unless nil) as a JSON body and decodes a 2xx response body into out
// (unless nil or the body is empty). The Response is returned also for allowed non-2xx
// statuses, which are not decoded.
func (c *Client) DoJSON(ctx context.Context, r *Request, in, out any) (*Response, error) {
	req := *r
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, c.opErr(req.method(), RedactURL(req.Path), "encode request", err)
		}
		req.Body = b
	}
	resp, err := c.Do(ctx, &req)
	if err != nil {
		return nil, err
	}
	if out != nil && resp.Status/100 == 2 && len(bytes.TrimSpace(resp.Body)) > 0 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			u, _ := resolve(c.base, req.Path, req.Query)
			return resp, c.opErr(req.method(), redactURL(u), fmt.Sprintf("decode %d response", resp.Status), err)
		}
	}
	return resp, nil
}

// GetJSON GETs path with query and decodes the JSON answer into out.
func (c *Client) GetJSON(ctx context.Context, path string, query url.Values, out any) error {
	_, err := c.DoJSON(ctx, &Request{Method: http.MethodGet, Path: path, Query: query}, nil, out)
	return err
}

// PostJSON POSTs in as JSON to path and decodes the JSON answer into out. The POST is not
// idempotent: use DoJSON with Request.Idempotent for one that is.
func (c *Client) PostJSON(ctx context.Context, path string, in, out any) error {
	_, err := c.DoJSON(ctx, &Request{Method: http.MethodPost, Path: path}, in, out)
	return err
}
