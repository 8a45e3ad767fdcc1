// Package reel holds the shared vocabulary of reelmatch: movies, splits,
// modalities, vectors and search hits. It is the leaf of the package graph and
// imports no other internal package.
package reel
