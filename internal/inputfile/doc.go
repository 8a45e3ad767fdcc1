// Package inputfile opens and reads the files a user hands reelmatch
// (posters, query and calibration images, info.csv, train.txt, tokenizer
// and config JSON, model files, weights and caches) within a size cap per
// kind of file. It owns the rule every input file passes:
//
//   - the path must name a regular file once symlinks are resolved: a
//     folder, named pipe (FIFO), device (/dev/zero) or socket is refused
//     before anything is read, with ErrNotRegular;
//   - the file is opened with O_NONBLOCK and checked again on the opened
//     descriptor (fstat), so a path swapped for a FIFO between the check
//     and the open can neither block nor be read;
//   - its size must be at most the cap of its Kind, checked before reading
//     (ErrTooLarge), and every read goes through a limit, so a file that
//     grows while it is read is refused too;
//   - ReadFile reads in chunks and stops when its context is cancelled, so
//     Ctrl-C interrupts a long read.
//
// The caps have documented defaults (see Kind) that SetCap changes; the
// command line sets them from REELMATCH_MAX_<KIND>_BYTES. What a file
// holds (image, CSV, JSON, ONNX) is left to the packages that parse it.
package inputfile
