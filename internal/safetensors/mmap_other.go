//go:build !unix

package safetensors

// MapFile is ReadFile where memory maps are not supported.
func MapFile(path string) (*File, error) { return ReadFile(path) }
