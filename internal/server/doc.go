// Package server is reelmatch's web front: a JSON API over a trained run
// (browse movies, nearest neighbours in both directions, free-text and
// poster-upload search) and the single-page UI embedded from web/, so the
// binary serves everything offline with no CDN.
//
// The server knows nothing of training, encoders or dataset files: it asks
// an Engine (a narrow interface declared here) for movies and neighbours,
// and reads only the poster files the Engine's movies name. It binds
// 127.0.0.1 by default, clamps k to 1..100, bounds query and upload sizes,
// sniffs uploads, and is safe under concurrent requests.
package server
