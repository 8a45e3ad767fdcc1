package reeltest

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"
)

// GetJSON fetches url and returns the status code and the JSON object of
// the body; the test fails when the request fails or the body is not a
// JSON object (every API answer, errors included, is one).
func GetJSON(t testing.TB, url string) (int, map[string]any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, "GET "+url, res)
}

// PostImage uploads data to url as the multipart form field named field
// (file name "poster.jpg"), or, when field is "", as the raw request body
// (application/octet-stream), and returns the status code and the JSON
// object of the answer.
func PostImage(t testing.TB, url string, data []byte, field string) (int, map[string]any) {
	t.Helper()
	var body io.Reader = bytes.NewReader(data)
	ctype := "application/octet-stream"
	if field != "" {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, err := mw.CreateFormFile(field, "poster.jpg")
		if err == nil {
			_, err = fw.Write(data)
		}
		if err == nil {
			err = mw.Close()
		}
		if err != nil {
			t.Fatal(err)
		}
		body, ctype = &buf, mw.FormDataContentType()
	}
	res, err := http.Post(url, ctype, body)
	if err != nil {
		t.Fatal(err)
	}
	return decodeJSON(t, "POST "+url, res)
}

// decodeJSON reads and closes res's body as one JSON object.
func decodeJSON(t testing.TB, what string, res *http.Response) (int, map[string]any) {
	t.Helper()
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("%s: body is not JSON: %v", what, err)
	}
	return res.StatusCode, body
}
