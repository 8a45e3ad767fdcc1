// Package hubtest is a fake Hugging Face hub on loopback for tests: it
// serves /{org}/{name}/resolve/{rev}/{path} like huggingface.co does,
// answering small files itself (ETag = git blob id) and redirecting LFS
// files to a CDN on another host name with X-Linked-Etag (SHA-256) and
// X-Linked-Size. Only tests import it.
package hubtest
