// Package synth writes a small synthetic movie dataset in the real layout
// (info.csv with id,name,intro; poster/<id>.jpg; train.txt listing 80% of
// the ids), for `reelmatch demo` and as a fixture generator in tests.
//
// Each movie gets a genre. Its poster is drawn with the genre's palette and
// shapes (horror: dark red and black with jagged spikes; comedy: bright
// yellow with circles; romance: pink hearts; sci-fi: blue grids; western:
// an orange sky over a brown horizon; ocean adventure: green-blue waves),
// and its intro is built from grammatical template sentences filled with
// the genre's vocabulary (horror speaks of haunted houses at midnight and
// killers who hunt, so the demo's example queries find horror films). A
// time of day (night, day or dusk) named in the intro also tints the
// poster, so posters and intros are linked beyond their genre. Noise
// (random positions, sizes and colour jitter, shared filler words, and a
// share of movies whose poster follows another genre's style) keeps the
// matching task learnable but not trivial. Output depends only on the seed.
package synth
