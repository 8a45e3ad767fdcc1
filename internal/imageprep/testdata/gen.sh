#!/bin/sh
# Regenerates the small test images in this folder from the fixture images
# (landscape_rgb, poster_rgb, square_gray, tall_rgba in the repository's
# testdata/fixtures/images, shared with other packages). Needs ImageMagick 6 (libjpeg-turbo, libpng,
# libwebp) and exiftool. The *.want.png files are what libjpeg-turbo (the
# decoder Pillow uses, at its defaults: islow IDCT, fancy upsampling) or
# libwebp/libpng/giflib decode, written losslessly: the tests compare our
# decoder against them.
set -eu
cd "$(dirname "$0")"
mkdir -p decode orient golden
IM="convert -define jpeg:dct-method=islow"
F=../../../testdata/fixtures/images

# Libjpeg decodes of the fixture JPEGs.
for b in landscape_rgb poster_rgb square_gray tall_rgba; do
	$IM $F/$b.jpg png24:decode/$b.jpg.want.png
done

# JPEG variants: progressive, chroma subsampling 4:4:4 / 4:2:2 / 4:4:0,
# CMYK (Adobe, inverted), grey (1 component).
convert $F/poster_rgb.png -interlace Plane -quality 90 decode/progressive.jpg
convert $F/poster_rgb.png -sampling-factor 1x1 -quality 90 decode/s444.jpg
convert $F/poster_rgb.png -sampling-factor 2x1 -quality 90 decode/s422.jpg
convert $F/poster_rgb.png -sampling-factor 1x2 -quality 90 decode/s440.jpg
convert $F/poster_rgb.png -colorspace CMYK -quality 90 decode/cmyk.jpg
convert $F/square_gray.png -colorspace Gray -quality 90 decode/gray.jpg
for f in progressive s444 s422 s440 gray; do $IM decode/$f.jpg png24:decode/$f.jpg.want.png; done
$IM decode/cmyk.jpg -colorspace sRGB png24:decode/cmyk.jpg.want.png

# WebP (lossless and lossy), 16-bit PNGs, paletted PNG, GIFs.
convert $F/poster_rgb.png -define webp:lossless=true decode/lossless.webp
convert $F/poster_rgb.png -quality 90 decode/lossy.webp
convert decode/lossy.webp png24:decode/lossy.webp.want.png
convert $F/poster_rgb.png -depth 16 png48:decode/rgb16.png
convert $F/square_gray.png -depth 16 -define png:color-type=0 -define png:bit-depth=16 decode/gray16.png
convert $F/poster_rgb.png -colors 64 png8:decode/palette.png
convert decode/palette.png png24:decode/palette.png.want.png
convert $F/poster_rgb.png -colors 64 decode/poster.gif
convert 'decode/poster.gif[0]' png24:decode/poster.gif.want.png
convert -size 20x10 xc:red xc:blue -delay 10 decode/anim.gif

# EXIF orientation: one 24x16 picture of six flat 8x8 colours, stored
# once, tagged 1..8 (exiftool rewrites only the tag), and how libjpeg +
# ImageMagick's -auto-orient show it.
convert -size 8x8 xc:red xc:lime xc:blue +append \( -size 8x8 xc:yellow xc:magenta xc:white +append \) -append +repage /tmp/orient_base.png
convert /tmp/orient_base.png -quality 95 -sampling-factor 1x1 /tmp/orient_base.jpg
for o in 1 2 3 4 5 6 7 8; do
	exiftool -q -n -Orientation=$o -o orient/$o.jpg /tmp/orient_base.jpg
	$IM orient/$o.jpg -auto-orient png24:orient/$o.want.png
done
exiftool -q -n -ExifByteOrder=II -Orientation=6 -o orient/6_intel.jpg /tmp/orient_base.jpg
exiftool -q -n -Orientation=8 -o orient/8.png /tmp/orient_base.png

# A synthetic 300x447 poster (the typical size in our data) for benchmarks.
convert -seed 7 -size 300x447 plasma:fractal -blur 0x1 -quality 90 -sampling-factor 2x2 bench_poster.jpg

# The expected upright orientation-8 PNG (its eXIf chunk says rotate 90°
# counter-clockwise for display), losslessly.
convert orient/8.png -rotate -90 png24:orient/8.png.want.png
rm -f /tmp/orient_base.png /tmp/orient_base.jpg

# golden/*.png and golden/golden.json are not made here: run
#   go test ./internal/imageprep -run TestGolden -update-golden
