// Run-time choice of level: the CPU's widest instruction set, detected once,
// capped by tq_set_level_limit; each public function calls that level's code.
#include "levels.h"

#include <stdatomic.h>

// -1 until detected; detection is idempotent, so two threads racing on the first
// call both store the same value.
static atomic_int detected_int8 = -1, detected_bf16 = -1;
static atomic_int level_limit = -1;

static void detect(void) {
  int int8 = 0, bf16 = 0;
#if defined(__x86_64__)
  // __builtin_cpu_supports also checks that the OS saves the AVX / AVX-512 registers.
  __builtin_cpu_init();
  int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
  if (avx512 && __builtin_cpu_supports("avx512vnni")) int8 = 3;
  else if (avx512) int8 = 2;
  else if (__builtin_cpu_supports("avx2")) int8 = 1;
  if (__builtin_cpu_supports("avx512f")) bf16 = 2;
  else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) bf16 = 1;
#endif
  atomic_store_explicit(&detected_bf16, bf16, memory_order_relaxed);
  atomic_store_explicit(&detected_int8, int8, memory_order_relaxed);
}

static int capped(atomic_int *detected) {
  int level = atomic_load_explicit(detected, memory_order_relaxed);
  if (level < 0) {
    detect();
    level = atomic_load_explicit(detected, memory_order_relaxed);
  }
  int limit = atomic_load_explicit(&level_limit, memory_order_relaxed);
  return limit >= 0 && limit < level ? limit : level;
}

int tq_int8_level(void) { return capped(&detected_int8); }
int tq_bf16_level(void) { return capped(&detected_bf16); }
void tq_set_level_limit(int level) { atomic_store_explicit(&level_limit, level < 0 ? -1 : level, memory_order_relaxed); }

static const char *const level_names[] = {"portable", "avx2", "avx512", "avx512-vnni"};
const char *tq_int8_name(void) { return level_names[tq_int8_level()]; }
const char *tq_bf16_name(void) { return level_names[tq_bf16_level()]; }

void tq_quantize_rows_u8(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp, uint8_t *xq,
                         float *xscale) {
#if defined(__x86_64__)
  int level = tq_int8_level();
  if (level >= 2) { tq_quantize_rows_u8_avx512(x, m, k, ldx, kp, xq, xscale); return; }
  if (level == 1) { tq_quantize_rows_u8_avx2(x, m, k, ldx, kp, xq, xscale); return; }
#endif
  tq_quantize_rows_u8_portable(x, m, k, ldx, kp, xq, xscale);
}

void tq_int8_gemm(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                  const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y,
                  ptrdiff_t ldy) {
#if defined(__x86_64__)
  switch (tq_int8_level()) {
    case 3: tq_int8_gemm_vnni(xq, xscale, m, kp, w, wscale, wsum, bias, j0, j1, y, ldy); return;
    case 2: tq_int8_gemm_avx512(xq, xscale, m, kp, w, wscale, wsum, bias, j0, j1, y, ldy); return;
    case 1: tq_int8_gemm_avx2(xq, xscale, m, kp, w, wscale, wsum, bias, j0, j1, y, ldy); return;
  }
#endif
  tq_int8_gemm_portable(xq, xscale, m, kp, w, wscale, wsum, bias, j0, j1, y, ldy);
}

void tq_bf16_gemm(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w, const float *bias,
                  ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
#if defined(__x86_64__)
  switch (tq_bf16_level()) {
    case 2: tq_bf16_gemm_avx512(x, m, k, ldx, w, bias, j0, j1, y, ldy); return;
    case 1: tq_bf16_gemm_avx2(x, m, k, ldx, w, bias, j0, j1, y, ldy); return;
  }
#endif
  tq_bf16_gemm_portable(x, m, k, ldx, w, bias, j0, j1, y, ldy);
}

void tq_f32_gemm(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w, const float *bias,
                 ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
#if defined(__x86_64__)
  switch (tq_bf16_level()) {
    case 2: tq_f32_gemm_avx512(x, m, k, ldx, w, bias, j0, j1, y, ldy); return;
    case 1: tq_f32_gemm_avx2(x, m, k, ldx, w, bias, j0, j1, y, ldy); return;
  }
#endif
  tq_f32_gemm_portable(x, m, k, ldx, w, bias, j0, j1, y, ldy);
}
