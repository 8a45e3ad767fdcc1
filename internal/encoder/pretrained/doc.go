// Package pretrained provides the encoders built on published ONNX exports:
// "resnet50-distilbert" (the seed's ResNet-50 pooled features and
// DistilBERT [CLS] vector) and "clip-vit-b32" (OpenAI CLIP ViT-B/32, both
// towers in one space). It also owns the model presets: which Hugging Face
// repository and files each tower comes from, and where they live in the
// models cache (one folder per preset, files as laid out in the repository;
// see Preset.Dir).
//
// Each encoder is a Runtime session (ort or go, chosen by
// encoder.Config.Backend) plus a tokenizer (internal/tokenize) and an image
// recipe (internal/imageprep). Graph input and output names are read from
// the ONNX file itself, so exports that name their output pooler_output,
// features or last_hidden_state (averaged over a feature map) all work.
//
// Downloading lives in internal/hub; running graphs in the runtimes;
// choosing raw or cleaned text in internal/embed.
package pretrained
