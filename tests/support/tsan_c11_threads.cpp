// ThreadSanitizer and librdkafka: librdkafka starts its threads with C11 thrd_create, which
// glibc (>= 2.34) implements without going through the pthread_create that TSan intercepts. TSan
// then knows nothing of those threads, and the first allocation in one of them crashes inside
// the sanitizer allocator (a SEGV in SizeClassAllocator64LocalCache::Allocate, thread
// "rdk:mock" or "rdk:main"). Defining the C11 thread calls here — the executable's definitions
// take precedence over libc's for librdkafka.so — routes them through pthread_*, so TSan sees the
// threads, their joins and their detaches. Linked into test executables of TSan builds only.
#include <errno.h>
#include <pthread.h>
#include <threads.h>

#include <cstdint>

namespace {

struct Start {
  thrd_start_t func;
  void* arg;
};

void* trampoline(void* p) {
  const Start s = *static_cast<Start*>(p);
  delete static_cast<Start*>(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(s.func(s.arg)));
}

int result(int rc) {
  if (rc == 0) return thrd_success;
  return rc == ENOMEM ? thrd_nomem : thrd_error;
}

}  // namespace

extern "C" int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* s = new Start{func, arg};
  const int rc = pthread_create(thr, nullptr, trampoline, s);
  if (rc != 0) delete s;
  return result(rc);
}

extern "C" int thrd_join(thrd_t thr, int* res) {
  void* value = nullptr;
  const int rc = pthread_join(thr, &value);
  if (rc == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(value));
  return result(rc);
}

extern "C" int thrd_detach(thrd_t thr) { return result(pthread_detach(thr)); }
