// The model of a scenario as components: modality encoders, shared backbones, resamplers,
// projection heads and LM heads, each with its dimensions and the components it reads.
// A component is one set of weights; every task that lists it runs its own data through it.
#pragma once

#include <string>
#include <vector>

namespace spindle {

enum class ComponentKind { kEncoder, kDecoder, kResampler, kProjection, kLmHead };
enum class Embedding { kNone, kPatch, kToken };
enum class Mlp { kGelu, kSwiglu };

const char* component_kind_name(ComponentKind k);
const char* embedding_name(Embedding e);
const char* mlp_name(Mlp m);

struct Component {
  std::string name;
  ComponentKind kind = ComponentKind::kEncoder;
  std::string modality;                   // what data its embedding reads (display, data synthesis)
  std::vector<std::string> inputs;        // outputs concatenated (along tokens) into its input
  std::vector<std::string> cross_inputs;  // decoder: memory its cross-attention reads (side input)
  int layers = 0;                         // transformer layers (encoder/decoder)
  int hidden = 0;                         // width of its activations (projection: output width)
  int heads = 0;
  int ffn = 0;
  Mlp mlp = Mlp::kGelu;
  bool causal = false;
  Embedding embedding = Embedding::kNone;
  int patch_dim = 0;              // patch embedding: input features per token
  int vocab = 0;                  // token embedding or LM head vocabulary
  std::string tie_embedding;      // use this component's token embedding weights instead
  int tokens = 0;                 // tokens of its own input (embedding), per sample
  int queries = 0;                // resampler: learned queries = output tokens
  int out_tokens = 0;             // projection: tokens after pooling (1 = pooled embedding)

  bool has_embedding() const { return embedding != Embedding::kNone; }
  // Attention layers, the operators tensor parallelism splits.
  bool has_attention() const { return kind == ComponentKind::kEncoder || kind == ComponentKind::kDecoder || kind == ComponentKind::kResampler; }
};

struct ModelSpec {
  std::string name;
  std::vector<Component> components;  // in declaration order
  std::vector<int> topo_order;        // component indices, inputs before their consumers

  const Component* find(const std::string& name) const;
  int index_of(const std::string& name) const;  // -1 when absent
  std::vector<std::string> names() const;
  // Of `used` (component indices), those whose output no other member of `used` reads as
  // input or cross-attention memory: what a task's loss consumes. Keeps the order of `used`.
  std::vector<int> sinks(const std::vector<int>& used) const;
};

}  // namespace spindle
