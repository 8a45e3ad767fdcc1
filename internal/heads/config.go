package heads

import (
	"errors"
	"fmt"
)

// Config holds every setting that determines a trained head: the
// architecture, the loss and the optimisation. It is saved beside each
// checkpoint (config.json), so a run can be rebuilt and compared.
type Config struct {
	// ImageDim and TextDim are the input feature sizes. Train fills them
	// from the data; a loaded checkpoint checks them against the weights.
	ImageDim int `json:"image_dim"`
	TextDim  int `json:"text_dim"`
	// Hidden lists the hidden layer sizes; each is Linear -> BatchNorm1d ->
	// ReLU -> Dropout (the seed uses three).
	Hidden []int `json:"hidden"`
	// EmbedDim is the size of the shared embedding both towers project to.
	EmbedDim int `json:"embed_dim"`
	// Dropout is the drop probability after every hidden ReLU.
	Dropout float64 `json:"dropout"`
	// InputDropout is the drop probability on the input features.
	InputDropout float64 `json:"input_dropout"`
	// Standardize trains on features shifted and scaled to zero mean and
	// unit variance per dimension (statistics of the training pairs). The
	// shift and scale are folded into the first Linear of the saved heads,
	// so checkpoints take raw features like the PyTorch reference.
	Standardize bool `json:"standardize"`
	// Temperature τ divides the cosine similarities into logits (CLIP: 0.07).
	Temperature float64 `json:"temperature"`
	// LearnTemperature learns log(1/τ) as CLIP does, starting from
	// Temperature and clamped so 1/τ stays within [1, 100].
	LearnTemperature bool `json:"learn_temperature"`
	// LR is Adam's learning rate (betas 0.9/0.999, eps 1e-8 as PyTorch).
	LR float64 `json:"lr"`
	// LRStep and LRGamma are PyTorch's StepLR, stepped once per epoch: the
	// rate is multiplied by LRGamma every LRStep epochs. LRStep 0 keeps the
	// rate constant.
	LRStep  int     `json:"lr_step"`
	LRGamma float64 `json:"lr_gamma"`
	// WeightDecay is decoupled weight decay (AdamW, as torch.optim.AdamW):
	// every step subtracts lr*WeightDecay*w from every trainable weight.
	WeightDecay float64 `json:"weight_decay"`
	// BatchSize is the number of pairs per step. The last partial batch of
	// an epoch is dropped (drop_last=True), so one graph is compiled and
	// BatchNorm never sees a tiny batch; shuffling changes which pairs are
	// left out each epoch.
	BatchSize int `json:"batch_size"`
	// Epochs is the maximum number of passes over the training pairs.
	Epochs int `json:"epochs"`
	// Patience stops training after this many epochs without a better
	// validation score; 0 never stops early. It needs validation pairs.
	Patience int `json:"patience"`
	// AverageEpochs, when above 1, keeps the mean of the weights at the end
	// of the last AverageEpochs epochs run (stochastic weight averaging)
	// instead of the epoch with the best validation score. 0 or 1 keeps the
	// best epoch (the last one without validation pairs).
	AverageEpochs int `json:"average_epochs"`
	// PreciseBN recomputes every BatchNorm's statistics over all training
	// pairs in eval mode (no dropout) for each scored epoch and for the kept
	// weights, instead of keeping the momentum averages of training-mode
	// batches.
	PreciseBN bool `json:"precise_bn"`
	// Seed seeds the weight initialisation, the shuffling and the dropout
	// masks: the same seed and data give a byte-identical checkpoint.
	Seed int64 `json:"seed"`
}

// DefaultConfig returns the defaults chosen by measurement on the
// MovieLens poster set (see docs/training.md). Input sizes are left zero
// for Train to fill.
func DefaultConfig() Config {
	return Config{
		Hidden:       []int{256, 256, 256},
		EmbedDim:     128,
		Dropout:      0.1,
		InputDropout: 0.5,
		Standardize:  true,
		Temperature:  0.07, // CLIP's initial temperature (Radford et al. 2021)
		LR:           1e-3, // the seed's Adam learning rate
		LRStep:       10,
		LRGamma:      0.5,
		WeightDecay:  0,
		BatchSize:    32, // the seed's batch size
		Epochs:       30,
		// Averaging the last 15 of 30 epochs with precise BatchNorm
		// statistics beat keeping the best validation epoch: the
		// 259-pair validation slice is too small to pick an epoch reliably
		// (docs/training.md).
		AverageEpochs: 15,
		PreciseBN:     true,
		Patience:      0,
		Seed:          1,
	}
}

// ErrBadConfig is wrapped by Validate for settings that cannot train.
var ErrBadConfig = errors.New("bad head settings")

// Validate reports the first setting that cannot work, naming it.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.ImageDim <= 0 || c.TextDim <= 0:
		return bad("input sizes must be positive (image %d, text %d)", c.ImageDim, c.TextDim)
	case c.EmbedDim <= 0:
		return bad("embed-dim must be positive, got %d", c.EmbedDim)
	case c.Dropout < 0 || c.Dropout >= 1:
		return bad("dropout must be in [0,1), got %g", c.Dropout)
	case c.InputDropout < 0 || c.InputDropout >= 1:
		return bad("input-dropout must be in [0,1), got %g", c.InputDropout)
	case c.Temperature <= 0:
		return bad("temperature must be positive, got %g", c.Temperature)
	case c.LR <= 0:
		return bad("lr must be positive, got %g", c.LR)
	case c.LRStep < 0:
		return bad("lr-step must not be negative, got %d", c.LRStep)
	case c.LRGamma <= 0:
		return bad("lr-gamma must be positive, got %g", c.LRGamma)
	case c.WeightDecay < 0:
		return bad("weight-decay must not be negative, got %g", c.WeightDecay)
	case c.BatchSize < 2:
		return bad("batch must be at least 2 (BatchNorm and the contrastive loss need pairs to compare), got %d", c.BatchSize)
	case c.Epochs < 0:
		return bad("epochs must not be negative, got %d", c.Epochs)
	case c.Patience < 0:
		return bad("patience must not be negative, got %d", c.Patience)
	case c.AverageEpochs < 0:
		return bad("average-epochs must not be negative, got %d", c.AverageEpochs)
	}
	for i, h := range c.Hidden {
		if h <= 0 {
			return bad("hidden size %d (layer %d) must be positive", h, i+1)
		}
	}
	return nil
}

// lrAt is the StepLR learning rate for a 0-based epoch.
func (c Config) lrAt(epoch int) float64 {
	lr := c.LR
	if c.LRStep > 0 {
		for range epoch / c.LRStep {
			lr *= c.LRGamma
		}
	}
	return lr
}
