// CUPTI activity records of timed runs (see cupti_recorder.h).
#include "calibrate/cuda/cupti_recorder.h"

#include <cupti.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <string>

#include "calibrate/cuda/cupti_check.h"

namespace spindle::calibrate {

void check_cupti(CUptiResult status, const char* expr, const char* file, int line) {
  if (status == CUPTI_SUCCESS) return;
  const char* text = nullptr;
  if (cuptiGetResultString(status, &text) != CUPTI_SUCCESS || text == nullptr) text = "unknown CUPTI error";
  throw CuptiError(std::string(expr) + " failed at " + file + ":" + std::to_string(line) + ": " + text + " (" +
                   std::to_string(static_cast<int>(status)) + ")");
}

namespace {

// The device's work, and the external correlation records. CUPTI writes an external correlation
// record only before an API record (cupti_activity.h, cuptiActivityPushExternalCorrelationId):
// the runtime and driver API kinds must be on for any to appear (their records are skipped).
constexpr CUpti_ActivityKind kKinds[] = {CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL, CUPTI_ACTIVITY_KIND_MEMSET,
                                         CUPTI_ACTIVITY_KIND_MEMCPY,           CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION,
                                         CUPTI_ACTIVITY_KIND_RUNTIME,          CUPTI_ACTIVITY_KIND_DRIVER};
constexpr std::size_t kBufferBytes = std::size_t{8} << 20;
constexpr std::size_t kAlign = 8;  // CUPTI's required buffer alignment (ACTIVITY_RECORD_ALIGNMENT)

std::string copy_kind(std::uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "[memcpy HtoD]";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "[memcpy DtoH]";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "[memcpy DtoD]";
    case CUPTI_ACTIVITY_MEMCPY_KIND_PTOP: return "[memcpy PtoP]";
    default: return "[memcpy]";
  }
}

// Where CUPTI's callbacks (on its own thread) leave the records until collect() takes them.
struct Sink {
  std::mutex mu;
  KernelRecords records;
  std::string failure;  // a callback must not throw into CUPTI: the first failure waits here
};
Sink& sink() {
  static Sink s;
  return s;
}
std::atomic<bool> g_open{false};

void CUPTIAPI buffer_requested(std::uint8_t** buffer, std::size_t* size, std::size_t* max_records) {
  *buffer = static_cast<std::uint8_t*>(std::aligned_alloc(kAlign, kBufferBytes));
  *size = *buffer != nullptr ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

void CUPTIAPI buffer_completed(CUcontext context, std::uint32_t stream, std::uint8_t* buffer, std::size_t,
                               std::size_t valid) {
  KernelRecords got;
  std::string failure;
  try {
    parse_activity_buffer(buffer, valid, got);
    std::size_t dropped = 0;
    SPINDLE_CUPTI(cuptiActivityGetNumDroppedRecords(context, stream, &dropped));
    got.dropped += dropped;
  } catch (const std::exception& e) {
    failure = e.what();
  }
  std::free(buffer);
  Sink& s = sink();
  const std::lock_guard<std::mutex> lock(s.mu);
  s.records.append(std::move(got));
  if (s.failure.empty()) s.failure = failure;
}

class CuptiRecorder final : public KernelRecorder {
 public:
  CuptiRecorder() {
    if (g_open.exchange(true)) throw InternalError("a second CUPTI recorder opened while one records");
    try {
      std::uint32_t version = 0;
      SPINDLE_CUPTI(cuptiGetVersion(&version));
      name_ = "CUPTI API " + std::to_string(version) + " kernel records";
      SPINDLE_CUPTI(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed));
      enable(true);  // a probe: CUPTI refuses here where it cannot record
      enable(false);
    } catch (...) {
      disable();
      g_open = false;
      throw;
    }
  }
  ~CuptiRecorder() override {
    disable();
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    {
      Sink& s = sink();
      const std::lock_guard<std::mutex> lock(s.mu);
      s.records = {};
      s.failure.clear();
    }
    g_open = false;
  }

  void begin_run(std::uint64_t run) override {
    SPINDLE_CUPTI(cuptiActivityPushExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, run));
  }
  void end_run() override {
    std::uint64_t last = 0;
    SPINDLE_CUPTI(cuptiActivityPopExternalCorrelationId(CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0, &last));
  }
  void enable(bool on) override {
    if (!on) return disable();
    constexpr int kCount = static_cast<int>(sizeof kKinds / sizeof kKinds[0]);
    while (enabled_ < kCount) {  // from the first not yet on; disable() turns off what is on
      SPINDLE_CUPTI(cuptiActivityEnable(kKinds[enabled_]));
      ++enabled_;
    }
  }
  KernelRecords collect() override {
    SPINDLE_CUPTI(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED));
    Sink& s = sink();
    const std::lock_guard<std::mutex> lock(s.mu);
    KernelRecords out = std::move(s.records);
    s.records = {};
    if (!s.failure.empty()) {
      const std::string failure = std::move(s.failure);
      s.failure.clear();
      throw CuptiError("reading CUPTI's activity records: " + failure);
    }
    return out;
  }
  std::string name() const override { return name_; }

 private:
  void disable() {
    for (int i = 0; i < enabled_; ++i) cuptiActivityDisable(kKinds[i]);
    enabled_ = 0;
  }
  std::string name_;
  int enabled_ = 0;  // kinds enabled so far (from the first)
};

}  // namespace

std::unique_ptr<KernelRecorder> open_cupti_recorder() { return std::make_unique<CuptiRecorder>(); }

void parse_activity_buffer(std::uint8_t* buffer, std::size_t valid, KernelRecords& into) {
  CUpti_Activity* record = nullptr;
  for (;;) {
    const CUptiResult status = cuptiActivityGetNextRecord(buffer, valid, &record);
    if (status == CUPTI_ERROR_MAX_LIMIT_REACHED) return;  // the buffer's end
    SPINDLE_CUPTI(status);
    switch (record->kind) {
      case CUPTI_ACTIVITY_KIND_KERNEL:
      case CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL: {
        const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
        into.kernels.push_back({k->name != nullptr ? k->name : "[unnamed kernel]", k->start, k->end, k->correlationId,
                                k->streamId});
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMSET: {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
        into.kernels.push_back({"[memset]", m->start, m->end, m->correlationId, m->streamId});
        break;
      }
      case CUPTI_ACTIVITY_KIND_MEMCPY: {
        const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
        into.kernels.push_back({copy_kind(m->copyKind), m->start, m->end, m->correlationId, m->streamId});
        break;
      }
      case CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION: {
        const auto* e = reinterpret_cast<const CUpti_ActivityExternalCorrelation*>(record);
        if (e->externalKind == CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0) into.run_of_call[e->correlationId] = e->externalId;
        break;
      }
      default:
        break;
    }
  }
}

}  // namespace spindle::calibrate
