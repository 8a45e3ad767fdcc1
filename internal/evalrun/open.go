package evalrun

import (
	"fmt"

	"github.com/reelmatch/reelmatch/internal/embed"
	"github.com/reelmatch/reelmatch/internal/encoder"
	"github.com/reelmatch/reelmatch/internal/workdir"
)

// OpenEncoder opens the run's encoder for free-text and image queries,
// restored as embed left it in work (embed.OpenEncoder), and checks it
// still produces the cached features' fingerprint: otherwise queries would
// land in another space. An empty cfg.TextInput takes the features' own;
// another one than theirs is an error. The caller closes the encoder.
func (s *Space) OpenEncoder(work workdir.Dir, cfg encoder.Config) (encoder.Encoder, error) {
	if cfg.TextInput == "" {
		cfg.TextInput = s.Features.TextInput
	} else if fti := s.Features.TextInput; fti != "" && cfg.TextInput != fti {
		return nil, fmt.Errorf("--text-input %s differs from the %s the features were embedded with: drop the flag or rerun `reelmatch embed --text-input %s`", cfg.TextInput, fti, cfg.TextInput)
	}
	enc, err := embed.OpenEncoder(work, s.Encoder, cfg)
	if err != nil {
		return nil, fmt.Errorf("open encoder %s: %w", s.Encoder, err)
	}
	if fp := s.Features.Fingerprint; fp != "" && enc.Fingerprint() != fp {
		enc.Close()
		return nil, fmt.Errorf("encoder %s now has fingerprint %.12s but the feature cache was made with %.12s: rerun `reelmatch embed --work %s --encoder %s`", s.Encoder, enc.Fingerprint(), fp, work, s.Encoder)
	}
	return enc, nil
}
