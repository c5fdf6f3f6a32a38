// sanitizer.cc: ThreadSanitizer suppressions for code this project cannot instrument.
//
// Debian's Abseil is built without -fsanitize=thread, so TSan cannot see the atomic
// reference counting inside absl::Status (Status::UnrefNonInlined lives in the
// library): when two fibers on different threads drop copies of one error status, the
// last one frees the shared payload storage, and TSan reports that free as racing with
// the other fiber's earlier read. The program is correct (the refcount orders them);
// the report is an artifact of the uninstrumented library. Only those frames are
// suppressed; everything of ours stays checked.
#include "fiber/internal/sanitizer.h"

#if GONET_HAVE_TSAN
extern "C" const char* __tsan_default_suppressions() {
  return "race:status_internal\n"
         "race:UnrefNonInlined\n"
         "race:absl/status/status.h\n";
}
#endif
