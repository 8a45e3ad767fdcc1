// Package heads owns the projection heads that map frozen encoder features
// into one shared embedding space: the MLP towers (as GoMLX graph functions),
// CLIP's symmetric contrastive loss, the training loop with Adam, a step
// learning-rate schedule, weight averaging over the last epochs, BatchNorm
// statistics recomputed over the training pairs and optional early stopping,
// and the checkpoints (safetensors weights with PyTorch names plus a JSON
// settings file).
//
// Beside the MLP it fits two heads in closed form (head_linear.go):
// regularised CCA, the default kind (DefaultKind), and a ridge-regression
// map from poster to intro features. SelectLinear chooses their
// regularisation by k-fold cross-validation over the training pairs
// (cv.go). They are saved in the MLP's checkpoint layout with no hidden
// layers, so every consumer projects with them unchanged.
//
// It sees only vectors: producing features (encoders, the feature cache) and
// judging retrieval on the held-out split (metrics, eval) belong to others.
//
// Each tower is the seed's head: for every hidden size a Linear, BatchNorm1d,
// ReLU and Dropout, then a Linear to the embedding size, with optional
// dropout on the input. Tensor names follow the PyTorch reference
// (`img.net.0.weight`, `img.net.1.running_mean`, ..., `txt.net.12.bias`), so
// checkpoints interoperate with the seed's torch.nn.Sequential heads.
//
// Training runs on GoMLX's pure-Go backend in float32 (the seed's mixed
// precision was a GPU speed-up). Inference (Model.Project) is plain Go:
// BatchNorm is folded into the preceding Linear and every output row is
// L2-normalised, so a projected row can be compared by dot product.
package heads
