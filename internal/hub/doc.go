// Package hub downloads model files from the Hugging Face hub (or a mirror
// named by HF_ENDPOINT) into reelmatch's models cache.
//
// A file is fetched from {endpoint}/{repo}/resolve/{revision}/{path}. A HEAD
// request first learns the expected size and, for LFS files, the SHA-256 the
// hub publishes in X-Linked-Etag (X-Linked-Size gives the size); redirects to
// the same host (renamed repositories) are followed, a redirect to another
// host (the CDN holding LFS content) is not, because the headers that matter
// are on the hub's own reply. Bytes go to "<dest>.partial"; an interrupted
// download resumes from there with a Range request, and only a file whose
// size (and SHA-256, when published) checks out is renamed onto dest.
//
// HF_TOKEN, when set, is sent as a Bearer token to the hub's host only (Go's
// HTTP client drops Authorization on a redirect to another host).
//
// reelmatch keeps its own cache layout (one folder per preset, files as laid
// out in the repository), not huggingface_hub's blobs/snapshots layout; see
// CacheRoot for how its base folder is chosen. The package knows nothing of
// which files an encoder needs: that is internal/encoder/pretrained.
package hub
