package heads

import (
	"errors"
	"fmt"

	"github.com/reelmatch/reelmatch/internal/bound"
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

// DefaultConfig returns the MLP defaults. Dropout and AverageEpochs were
// chosen by `reelmatch tune` (cross-validation inside the MovieLens
// training split); the rest is the seed's recipe or was measured earlier
// on the test split and not re-derived (docs/training.md says which). Input
// sizes are left zero for Train to fill.
func DefaultConfig() Config {
	return Config{
		Hidden:   []int{256, 256, 256},
		EmbedDim: 128,
		// Dropout 0.2 and the mean of the last 20 epochs: `reelmatch tune`'s
		// MLP grid (dropout 0.1/0.2 x windows 5-20), 5-fold
		// cross-validation on the MovieLens training split (docs/training.md).
		Dropout:      0.2,
		InputDropout: 0.5,
		Standardize:  true,
		Temperature:  0.07, // CLIP's initial temperature (Radford et al. 2021)
		LR:           1e-3, // the seed's Adam learning rate
		LRStep:       10,
		LRGamma:      0.5,
		WeightDecay:  0,
		BatchSize:    32, // the seed's batch size
		Epochs:       30,
		// Averaging the last epochs' weights with precise BatchNorm
		// statistics needs no epoch picked on the 259-pair validation
		// slice, which is too small to pick one reliably.
		AverageEpochs: 20,
		PreciseBN:     true,
		Patience:      0,
		Seed:          1,
	}
}

// ErrBadConfig is wrapped by Validate for settings that cannot train.
var ErrBadConfig = errors.New("bad head settings")

// ErrTooBig is wrapped (with ErrBadConfig) by Validate when the settings
// would need more than MaxTrainBytes to train.
var ErrTooBig = errors.New("too big to train")

// Allowed ranges of the settings, shared by Validate and the train flags
// (docs/cli.md lists them). Upper bounds keep a typo from asking for more
// memory or time than any run needs; MaxTrainBytes bounds the combination.
var (
	EpochsRange        = bound.Int{Min: 1, Max: 10_000}
	BatchSizeRange     = bound.Int{Min: 2, Max: 4096} // BatchNorm and the contrastive loss need pairs to compare
	LRRange            = bound.Float{Min: 0, Max: 1, OpenMin: true}
	LRStepRange        = bound.Int{Min: 0, Max: 10_000}
	LRGammaRange       = bound.Float{Min: 0, Max: 1, OpenMin: true}
	HiddenRange        = bound.Int{Min: 1, Max: 8192} // each hidden layer's size
	HiddenLayersRange  = bound.Int{Min: 0, Max: 8}
	EmbedDimRange      = bound.Int{Min: 1, Max: 4096}
	DropoutRange       = bound.Float{Min: 0, Max: 1, OpenMax: true}
	WeightDecayRange   = bound.Float{Min: 0, Max: 1}
	TemperatureRange   = bound.Float{Min: 0.001, Max: 10}
	PatienceRange      = bound.Int{Min: 0, Max: 10_000}
	AverageEpochsRange = bound.Int{Min: 0, Max: 1000}
	// ValFractionRange is the share of the training split SplitValidation
	// may hold out: more than half would leave less to train on than to
	// validate with.
	ValFractionRange = bound.Float{Min: 0, Max: 0.5}
	// InputDimRange bounds the feature sizes a checkpoint may declare.
	InputDimRange = bound.Int{Min: 1, Max: 1 << 20}
)

// MaxTrainBytes bounds TrainBytes: settings that would need more memory to
// train are refused before any work starts (the defaults need under 100 MB
// on 2048/768-d features).
const MaxTrainBytes = 2 << 30

// Weights counts the values of both towers (Linear weights and biases,
// BatchNorm scales, shifts and running statistics) for the input sizes in c.
func (c Config) Weights() int64 {
	tower := func(in int) int64 {
		var n int64
		prev := int64(in)
		for _, h := range c.Hidden {
			n += prev*int64(h) + 5*int64(h) // W, b; gamma, beta, mean, var
			prev = int64(h)
		}
		return n + prev*int64(c.EmbedDim) + int64(c.EmbedDim)
	}
	return tower(c.ImageDim) + tower(c.TextDim)
}

// TrainBytes estimates the memory training holds for the weights: the
// weights, their gradients and Adam's two moments inside the graph, the
// copies read back each epoch (current, best, precise-BatchNorm clone) and
// one copy per averaged epoch. Activations are small beside it.
func (c Config) TrainBytes() int64 {
	copies := int64(7 + max(c.AverageEpochs, 1))
	return 4 * c.Weights() * copies
}

// Validate reports the first setting that cannot work, naming it as its
// flag is named and giving the allowed range. NaN and ±Inf are refused
// everywhere.
func (c Config) Validate() error {
	if err := c.validateShape(); err != nil {
		return err
	}
	checks := []check{
		{"dropout", DropoutRange.Check(c.Dropout)},
		{"input-dropout", DropoutRange.Check(c.InputDropout)},
		{"lr", LRRange.Check(c.LR)},
		{"lr-step", LRStepRange.Check(c.LRStep)},
		{"lr-gamma", LRGammaRange.Check(c.LRGamma)},
		{"weight-decay", WeightDecayRange.Check(c.WeightDecay)},
		{"batch", BatchSizeRange.Check(c.BatchSize)},
		{"epochs", EpochsRange.Check(c.Epochs)},
		{"patience", PatienceRange.Check(c.Patience)},
		{"average-epochs", AverageEpochsRange.Check(c.AverageEpochs)},
	}
	if err := firstBad(checks); err != nil {
		return err
	}
	if b := c.TrainBytes(); b > MaxTrainBytes {
		return fmt.Errorf("%w: %w: heads of %d/%d-d inputs with hidden %v, embed-dim %d and average-epochs %d have %.1fM weights and need about %.1f GiB to train, over the %d GiB limit: lower hidden, embed-dim or average-epochs",
			ErrBadConfig, ErrTooBig, c.ImageDim, c.TextDim, c.Hidden, c.EmbedDim, c.AverageEpochs, float64(c.Weights())/1e6, float64(b)/(1<<30), MaxTrainBytes>>30)
	}
	return nil
}

// check is one named setting's range check.
type check struct {
	name string
	err  error
}

func firstBad(checks []check) error {
	for _, ck := range checks {
		if ck.err != nil {
			return fmt.Errorf("%w: %s %w", ErrBadConfig, ck.name, ck.err)
		}
	}
	return nil
}

// validateShape checks the settings inference depends on: the layer sizes
// and the temperature (Load checks these; Validate all settings).
func (c Config) validateShape() error {
	checks := []check{
		{"image input size", InputDimRange.Check(c.ImageDim)},
		{"text input size", InputDimRange.Check(c.TextDim)},
		{"embed-dim", EmbedDimRange.Check(c.EmbedDim)},
		{"temperature", TemperatureRange.Check(c.Temperature)},
		{"number of hidden layers", HiddenLayersRange.Check(len(c.Hidden))},
	}
	for i, h := range c.Hidden {
		checks = append(checks, check{fmt.Sprintf("hidden size of layer %d", i+1), HiddenRange.Check(h)})
	}
	return firstBad(checks)
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
