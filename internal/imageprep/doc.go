// Package imageprep decodes posters and turns them into the float32 pixel
// tensors image encoders take. It owns decoding (format sniffing, EXIF
// orientation, colour conversion), resampling and normalisation; it does
// not walk the file system or run models.
//
// # The poster rule and the decode budget
//
// Every image reelmatch decodes passes one rule, in one place (Inspect):
// a known format, sides of at least 1 pixel, at most MaxPixels pixels
// (DefaultMaxPixels = 4096×4096), sides within MaxAspect (1000:1) of each
// other, and for JPEG at most MaxJPEGScans scans; all read from the header
// before any pixel is allocated. prepare keeps exactly the posters Check
// accepts, and embed, search, encode, serve and quantize decode through
// the same functions, so a kept poster is always an embeddable one. Rule
// describes the rule in force for manifests.
//
// Decoding is bounded as a whole too: each image estimates from its header
// the memory decoding and preparing it takes (Info.Cost, checked against
// real allocations by TestCostBoundsAllocations) and waits for that share
// of a process-wide budget (DecodeMemory, default 256 MiB) in Acquire. An
// image costing more than the whole budget runs alone. The share is held
// until the caller's release, so it covers the pixels until they are
// turned into a tensor. When the decoders go idle after a burst (64 MiB
// or more granted), freed memory is returned to the operating system, at
// most every 5 s.
//
// # Decoding
//
// DecodeFile and DecodeBytes sniff the format from the content (JPEG,
// including progressive and CMYK/YCCK; PNG, including 16-bit, paletted and
// grey; WebP, lossy and lossless; GIF, first frame) and apply the EXIF
// Orientation tag (JPEG APP1, PNG eXIf, WebP EXIF), as Pillow's
// ImageOps.exif_transpose would. The seed's code did not apply it, so a
// rotated poster now reaches the encoder upright. Errors name the file;
// corrupt or truncated input is an error, never a panic.
//
// Colour follows Pillow's Image.convert("RGB"), the conversion every
// reference pipeline runs:
//   - JPEG YCbCr uses libjpeg's integer tables and its default "fancy"
//     (triangle) chroma upsampling rather than Go's nearest-sample
//     conversion; only the IDCT still differs (Go's image/jpeg is not
//     libjpeg-turbo's islow): about 3.5% of samples move by 1 to 3 levels.
//   - CMYK JPEGs (image/jpeg has already undone Adobe's inversion) use
//     Pillow's cmyk2rgb: (255-k) - round(c·(255-k)/255).
//   - Lossy WebP is converted with libwebp's limited-range BT.601
//     arithmetic and fancy upsampling (x/image/webp's own YCbCr result
//     would be read as full-range JFIF), which reproduces libwebp exactly.
//   - Alpha is dropped without compositing: convert("RGB") keeps the
//     stored colour of transparent pixels, and the tall_rgba golden
//     confirms the references did the same.
//   - Grey stays one channel until normalisation, which replicates it;
//     resampling it once gives the same numbers as resampling three
//     copies.
//   - 16-bit samples keep their high byte, as Pillow unpacks 16-bit RGB
//     PNGs. For 16-bit grey we deliberately differ: Pillow clips I;16 to
//     255 when converting to RGB (Convert.c I16_RGB), which turns almost
//     any such image white.
//
// # Recipes
//
// A Recipe resizes, centre-crops and normalises a decoded image into a
// [3, H, W] row-major float32 tensor (R, G, B planes). Seed is the seed
// project's transforms.Resize((224, 224)) + ToTensor + ImageNet Normalize;
// TorchVision is torchvision's ResNet-50 eval preset (shorter side 232,
// centre crop 224); FromCLIPConfig builds CLIP's from an HF
// preprocessor_config.json.
//
// No Go library reproduces Pillow's antialiased resampling (the filter
// support widens with the scale factor when downscaling, weights are 22-bit
// fixed point, and each of the two separable passes rounds to uint8), so
// resample.go ports Pillow's ImagingResample, plus ATen's uint8 variant
// (int16 weights at a per-axis precision) that torchvision's tensor resize
// and HF's default torchvision-backed image processors use. With that,
// the golden tensors made by PyTorch, torchvision and transformers from
// the fixture PNGs are reproduced bit for bit (tested with a tolerance of
// 1e-6, only to allow float-op fusion; one uint8 level is 1/255/std, about
// 0.017). From JPEG files the decoder's IDCT is the only remaining
// difference: at most 0.053 and 0.0008 on average after normalisation
// against libjpeg-turbo's decode of the same files (tolerance 4/255/0.224
// and 0.004).
//
// Rounding details that matter for exactness: torchvision's centre crop
// offset is int(round((size - crop) / 2.0)) with Python's half-to-even
// round, HF's slow processors use (size - crop) // 2 (CropRounding); both
// compute the resized longer side as int(shortest·long/short), truncated;
// ToTensor computes (v/255 - mean)/std, HF's fast processors
// (v - mean·255)/(std·255) (FusedRescale).
//
// Recipes are values and safe for concurrent use. Apply allocates its
// output; ApplyInto writes into one slot of a caller's batch buffer.
package imageprep
