#include "WorkerPool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define PAUSE() _mm_pause()
#else
#define PAUSE() ((void)0)
#endif

#define MAX_HELPERS 63
// About 50-100 microseconds of spinning: longer than the gaps between a
// decoding step's parallel operations, short enough not to hold a core.
#define SPINS 4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static atomic_long generation;
static atomic_int sleepers;
static atomic_long pending;
static atomic_flag busy = ATOMIC_FLAG_INIT;
static int started;
// The job, written before `generation` is released and read after it is acquired.
static wp_task job_task;
static void *job_context;
static long job_count;
static int job_threads;
static _Thread_local bool inside_task;
// The generation each worker was started at: it waits for the next one.
static long start_generation[MAX_HELPERS];

static void run_share(long share, int threads, wp_task task, void *context, long count) {
  inside_task = true;
  for (long index = share; index < count; index += threads) task(context, index);
  inside_task = false;
}

static void *worker(void *argument) {
  const long slot = (long)argument + 1;  // the caller takes share 0
  long seen = start_generation[slot - 1];
  for (;;) {
    long current = atomic_load(&generation);
    for (int spin = 0; current == seen && spin < SPINS; spin++) {
      PAUSE();
      current = atomic_load(&generation);
    }
    if (current == seen) {
      pthread_mutex_lock(&lock);
      atomic_fetch_add(&sleepers, 1);
      while ((current = atomic_load(&generation)) == seen) pthread_cond_wait(&wake, &lock);
      atomic_fetch_sub(&sleepers, 1);
      pthread_mutex_unlock(&lock);
    }
    seen = current;
    // Every started worker acknowledges every job, taking part or not, so no
    // job is published before all of them have read the one before.
    if (slot < job_threads) run_share(slot, job_threads, job_task, job_context, job_count);
    atomic_fetch_sub(&pending, 1);
  }
  return NULL;
}

void wp_run(long count, int helpers, wp_task task, void *context) {
  if (helpers > MAX_HELPERS) helpers = MAX_HELPERS;
  int threads = (int)(count < helpers + 1 ? count : helpers + 1);
  if (threads <= 1 || inside_task || atomic_flag_test_and_set(&busy)) {
    for (long index = 0; index < count; index++) task(context, index);
    return;
  }
  while (started < threads - 1) {
    pthread_t thread;
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
    start_generation[started] = atomic_load(&generation);
    if (pthread_create(&thread, &attributes, worker, (void *)(long)started) != 0) break;
    pthread_attr_destroy(&attributes);
    started++;
  }
  if (threads - 1 > started) threads = started + 1;
  job_task = task;
  job_context = context;
  job_count = count;
  job_threads = threads;
  atomic_store(&pending, started);
  atomic_fetch_add(&generation, 1);
  if (atomic_load(&sleepers) > 0) {
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&lock);
  }
  run_share(0, threads, task, context, count);
  while (atomic_load(&pending) > 0) PAUSE();
  atomic_flag_clear(&busy);
}
