// Package progress reports the progress of slow work on stderr: an animated
// bar on a terminal (github.com/schollz/progressbar), nothing otherwise or
// under --quiet. It never writes to stdout, which carries only results.
package progress
