// What the level files share (not part of the public interface): each level's
// entry points, the scalar quantization step every level uses for its tail,
// and the order in which the SIMD levels walk over an output.
#ifndef TESSERA_QUANTIZED_KERNELS_LEVELS_H
#define TESSERA_QUANTIZED_KERNELS_LEVELS_H

#include "QuantizedKernels.h"

#include <math.h>

// The int8 levels must give bit-identical y, so no level may fuse y's
// multiply and add into an FMA where another does not.
#pragma STDC FP_CONTRACT OFF

// One x * (127 / max|x|) product to its stored byte q + 128. NaN gives q = 0 and
// the clamp sends ±inf (a row whose max is subnormal makes 127 / max infinite)
// to ±127, so no float that is out of range or NaN reaches the int cast (undefined
// behaviour in C). The SIMD quantizers compute the same thing in vector form.
static inline uint8_t tq_quantize_one(float product) {
  if (product != product) return 128;
  if (product > 127.0f) product = 127.0f;
  if (product < -127.0f) product = -127.0f;
  return (uint8_t)(128 + (int)nearbyintf(product));
}

// A bf16 (a float's top half) as a float.
static inline float tq_bf16_to_float(uint16_t bits) {
  union { uint32_t word; float value; } u = {(uint32_t)bits << 16};
  return u.value;
}

void tq_quantize_rows_u8_portable(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp,
                                  uint8_t *xq, float *xscale);
void tq_int8_gemm_portable(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                           const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                           float *y, ptrdiff_t ldy);
void tq_bf16_gemm_portable(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w,
                           const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);
void tq_f32_gemm_portable(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w,
                          const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);

#if defined(__x86_64__)
// int8_avx512.c: level 3 (VNNI) and level 2 (AVX-512 BW) products, AVX-512F quantizer (levels 2 and 3).
void tq_int8_gemm_vnni(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                       const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                       float *y, ptrdiff_t ldy);
void tq_int8_gemm_avx512(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                         const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                         float *y, ptrdiff_t ldy);
void tq_quantize_rows_u8_avx512(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp,
                                uint8_t *xq, float *xscale);
// int8_avx2.c: level 1.
void tq_int8_gemm_avx2(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                       const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                       float *y, ptrdiff_t ldy);
void tq_quantize_rows_u8_avx2(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp,
                              uint8_t *xq, float *xscale);
// bf16.c: level 2 (AVX-512F) and level 1 (AVX2 + FMA), bf16 and fp32 weights.
void tq_bf16_gemm_avx512(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w,
                         const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);
void tq_bf16_gemm_avx2(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w,
                       const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);
void tq_f32_gemm_avx512(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w,
                        const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);
void tq_f32_gemm_avx2(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w,
                      const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);
#endif

#if defined(__x86_64__)
#include <immintrin.h>

// An int8 product as the block functions of every SIMD level see it.
typedef struct {
  const uint8_t *xq;
  const float *xscale;
  ptrdiff_t kp;
  const int8_t *w;
  const float *wscale;
  const int32_t *wsum;
  const float *bias;
  float *y;
  ptrdiff_t ldy;
} tq_int8_problem;

// A bf16 or fp32 product as its block functions see it (`w`: uint16_t or float rows of k).
typedef struct {
  const float *x;
  ptrdiff_t k, ldx;
  const void *w;
  const float *bias;
  float *y;
  ptrdiff_t ldy;
} tq_wide_problem;

// Writes y for row i, outputs j ..< j + nr, from the vector part's sums: adds
// the products from c = body on (the k % 16 or k % 8 tail) and the bias.
static inline __attribute__((always_inline)) void tq_wide_store(const tq_wide_problem *p, ptrdiff_t i, ptrdiff_t j,
                                                                int nr, ptrdiff_t body, const float sums[4], int f32) {
  float *out = p->y + i * p->ldy + j;
  const float *x = p->x + i * p->ldx;
  for (int o = 0; o < nr; o++) {
    float sum = sums[o];
    for (ptrdiff_t c = body; c < p->k; c++) {
      ptrdiff_t at = (j + o) * p->k + c;
      sum += x[c] * (f32 ? ((const float *)p->w)[at] : tq_bf16_to_float(((const uint16_t *)p->w)[at]));
    }
    out[o] = sum + (p->bias ? p->bias[j + o] : 0.0f);
  }
}
#endif

// The SIMD products compute blocks of up to 4 rows of x by 4 outputs (16
// accumulators), reading each chunk of a weight row once for all rows of the
// block. Outputs are taken in tiles of weight rows small enough to stay in L2
// while every row block of x passes over them; for m <= 4 there is one row
// block, so each weight byte is read from memory once (the GEMV case).
// Within a block the weight rows are read one after another, front to back, so
// memory is streamed in address order: reading the 4 rows side by side (4
// streams a row apart) ran the GEMV at a third of the memory bandwidth on AMD
// Zen 4, and software prefetching did not mend it.
typedef void tq_block_fn(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr);

enum { TQ_BLOCK = 4, TQ_TILE_BYTES = 96 * 1024 };

static inline __attribute__((always_inline)) void tq_sweep(const void *problem, ptrdiff_t m, ptrdiff_t j0,
                                                           ptrdiff_t j1, ptrdiff_t row_bytes, tq_block_fn *block) {
  ptrdiff_t tile = TQ_TILE_BYTES / (row_bytes > 0 ? row_bytes : 1) / TQ_BLOCK * TQ_BLOCK;
  if (tile < TQ_BLOCK) tile = TQ_BLOCK;
  for (ptrdiff_t jt = j0; jt < j1; jt += tile) {
    ptrdiff_t jend = j1 - jt < tile ? j1 : jt + tile;
    for (ptrdiff_t i = 0; i < m; i += TQ_BLOCK) {
      int mr = m - i < TQ_BLOCK ? (int)(m - i) : TQ_BLOCK;
      for (ptrdiff_t j = jt; j < jend; j += TQ_BLOCK) block(problem, i, mr, j, jend - j < TQ_BLOCK ? (int)(jend - j) : TQ_BLOCK);
    }
  }
}

// Calls KERNEL(MR, NR) with the block shape as constants (1...4 each), so that
// each shape compiles to its own fully unrolled loop with accumulators in registers.
#define TQ_SWITCH_SHAPE(mr, nr, KERNEL)                                                                          \
  switch (((mr) - 1) * 4 + ((nr) - 1)) {                                                                         \
    case 0: KERNEL(1, 1); break;  case 1: KERNEL(1, 2); break;  case 2: KERNEL(1, 3); break;  case 3: KERNEL(1, 4); break; \
    case 4: KERNEL(2, 1); break;  case 5: KERNEL(2, 2); break;  case 6: KERNEL(2, 3); break;  case 7: KERNEL(2, 4); break; \
    case 8: KERNEL(3, 1); break;  case 9: KERNEL(3, 2); break;  case 10: KERNEL(3, 3); break; case 11: KERNEL(3, 4); break; \
    case 12: KERNEL(4, 1); break; case 13: KERNEL(4, 2); break; case 14: KERNEL(4, 3); break; case 15: KERNEL(4, 4); break; \
  }

#endif
