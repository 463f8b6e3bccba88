// A fixed pool of worker threads that wait for work by spinning briefly
// before they sleep, so that the many short parallel operations of a
// decoding step start in about a microsecond instead of the tens of
// microseconds a thread wake-up costs.
#ifndef TESSERA_WORKER_POOL_H
#define TESSERA_WORKER_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*wp_task)(void *context, long index);

/// Runs task(context, i) for every 0 <= i < count, spread over the calling
/// thread and `helpers` pool threads (started on first use, at most 63), and
/// returns when all have finished. A call made from inside a task, or while
/// another thread's call is running, runs its indices on the calling thread.
void wp_run(long count, int helpers, wp_task task, void *context);

#ifdef __cplusplus
}
#endif

#endif
