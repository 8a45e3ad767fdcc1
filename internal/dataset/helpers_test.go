package dataset

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"

	"github.com/reelmatch/reelmatch/internal/reeltest"
)

// fixture is a dataset folder under construction in t.TempDir.
type fixture struct {
	t   testing.TB
	dir string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, PosterDir), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir}
}

// write puts content at name (relative to the data folder).
func (f *fixture) write(name string, content []byte) string {
	f.t.Helper()
	return reeltest.WriteFile(f.t, filepath.Join(f.dir, name), content)
}

func (f *fixture) info(csv string)  { f.write(InfoFile, []byte(csv)) }
func (f *fixture) train(txt string) { f.write(TrainFile, []byte(txt)) }

// poster writes poster/<name> with the given bytes and returns its path.
func (f *fixture) poster(name string, data []byte) string {
	return f.write(filepath.Join(PosterDir, name), data)
}

// testImage is a small image whose pixels depend on seed, so posters differ.
func testImage(seed int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 8, 12))
	for y := range 12 {
		for x := range 8 {
			img.Set(x, y, color.RGBA{uint8(seed * 40), uint8(x * 30), uint8(y * 20), 255})
		}
	}
	return img
}

func jpegBytes(t testing.TB, seed int) []byte {
	t.Helper()
	return reeltest.JPEG(t, testImage(seed), 90)
}

func pngBytes(t testing.TB, seed int) []byte {
	t.Helper()
	return reeltest.PNG(t, testImage(seed))
}
