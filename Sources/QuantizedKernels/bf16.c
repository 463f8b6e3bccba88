// bf16- and fp32-weight products at level 2 (AVX-512F) and level 1 (AVX2 +
// FMA): a bf16 weight chunk is widened to fp32 on the fly (a bf16 is a float's
// top 16 bits, so zero-extend to 32 bits and shift left 16), an fp32 one
// loaded as it is, and multiplied into fp32 accumulators with FMA. Same
// blocking as the int8 products; the k % 16 (k % 8) tail is added in scalar
// code by tq_wide_store. The block functions take the weight type as a
// constant (`f32`), so each type compiles to its own loop.
#include "levels.h"

#if defined(__x86_64__)

#define AVX512F __attribute__((target("avx512f")))
#define AVX2FMA __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline))

// The 16 accumulators reduced to one vector, 128-bit lane r holding row r's
// four output sums (as sum16 in int8_avx512.c, for floats).
INLINE AVX512F __m512 sum16(__m512 acc[4][4]) {
  __m512 row[4];
  for (int r = 0; r < 4; r++) {
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(acc[r][0], acc[r][1]), _mm512_unpackhi_ps(acc[r][0], acc[r][1]));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(acc[r][2], acc[r][3]), _mm512_unpackhi_ps(acc[r][2], acc[r][3]));
    __m512d abl = _mm512_castps_pd(ab), cdl = _mm512_castps_pd(cd);
    row[r] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(abl, cdl)), _mm512_castpd_ps(_mm512_unpackhi_pd(abl, cdl)));
  }
  __m512 r01 = _mm512_add_ps(_mm512_shuffle_f32x4(row[0], row[1], 0x44), _mm512_shuffle_f32x4(row[0], row[1], 0xee));
  __m512 r23 = _mm512_add_ps(_mm512_shuffle_f32x4(row[2], row[3], 0x44), _mm512_shuffle_f32x4(row[2], row[3], 0xee));
  return _mm512_add_ps(_mm512_shuffle_f32x4(r01, r23, 0x88), _mm512_shuffle_f32x4(r01, r23, 0xdd));
}

INLINE AVX512F __m512 widen16(const uint16_t *w) {
  __m512i words = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)w));
  return _mm512_castsi512_ps(_mm512_slli_epi32(words, 16));
}

INLINE AVX512F __m512 load16(const void *w, ptrdiff_t index, int f32) {
  return f32 ? _mm512_loadu_ps((const float *)w + index) : widen16((const uint16_t *)w + index);
}

INLINE AVX512F void avx512_block(const tq_wide_problem *p, ptrdiff_t i, int mr, ptrdiff_t j, int nr, int f32) {
  ptrdiff_t k = p->k, body = k / 16 * 16;
  const float *x = p->x + i * p->ldx;
  const char *w = (const char *)p->w + j * k * (f32 ? 4 : 2);
  __m512 acc[4][4];
  for (int r = 0; r < 4; r++)
    for (int o = 0; o < 4; o++) acc[r][o] = _mm512_setzero_ps();
  for (int o = 0; o < nr; o++)
    for (ptrdiff_t c = 0; c < body; c += 16) {
      __m512 wv = load16(w, o * k + c, f32);
      for (int r = 0; r < mr; r++) acc[r][o] = _mm512_fmadd_ps(_mm512_loadu_ps(x + r * p->ldx + c), wv, acc[r][o]);
    }
  float sums[16];
  _mm512_storeu_ps(sums, sum16(acc));
  for (int r = 0; r < mr; r++) tq_wide_store(p, i + r, j, nr, body, sums + 4 * r, f32);
}

static AVX512F void avx512_blocks_bf16(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR) avx512_block(problem, i, MR, j, NR, 0)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

static AVX512F void avx512_blocks_f32(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR) avx512_block(problem, i, MR, j, NR, 1)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

AVX512F void tq_bf16_gemm_avx512(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w,
                                 const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  tq_wide_problem p = {x, k, ldx, w, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, 2 * k, avx512_blocks_bf16);
}

AVX512F void tq_f32_gemm_avx512(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w,
                                const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  tq_wide_problem p = {x, k, ldx, w, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, 4 * k, avx512_blocks_f32);
}

// [sum(a), sum(b), sum(c), sum(d)] of four 8-lane accumulators (see int8_avx2.c).
INLINE AVX2FMA __m128 sum4(__m256 a, __m256 b, __m256 c, __m256 d) {
  __m256 ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
  __m256 cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
  __m256d abl = _mm256_castps_pd(ab), cdl = _mm256_castps_pd(cd);
  __m256 abcd = _mm256_add_ps(_mm256_castpd_ps(_mm256_unpacklo_pd(abl, cdl)),
                              _mm256_castpd_ps(_mm256_unpackhi_pd(abl, cdl)));
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

INLINE AVX2FMA __m256 widen8(const uint16_t *w) {
  __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)w));
  return _mm256_castsi256_ps(_mm256_slli_epi32(words, 16));
}

INLINE AVX2FMA __m256 load8(const void *w, ptrdiff_t index, int f32) {
  return f32 ? _mm256_loadu_ps((const float *)w + index) : widen8((const uint16_t *)w + index);
}

// Two rows at a time (8 accumulators fit AVX2's 16 registers beside the operands).
INLINE AVX2FMA void avx2_block(const tq_wide_problem *p, ptrdiff_t i, int mr, ptrdiff_t j, int nr, int f32) {
  ptrdiff_t k = p->k, body = k / 8 * 8;
  const float *x = p->x + i * p->ldx;
  const char *w = (const char *)p->w + j * k * (f32 ? 4 : 2);
  __m256 acc[2][4];
  for (int r = 0; r < 2; r++)
    for (int o = 0; o < 4; o++) acc[r][o] = _mm256_setzero_ps();
  for (int o = 0; o < nr; o++)
    for (ptrdiff_t c = 0; c < body; c += 8) {
      __m256 wv = load8(w, o * k + c, f32);
      for (int r = 0; r < mr; r++) acc[r][o] = _mm256_fmadd_ps(_mm256_loadu_ps(x + r * p->ldx + c), wv, acc[r][o]);
    }
  for (int r = 0; r < mr; r++) {
    float sums[4];
    _mm_storeu_ps(sums, sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
    tq_wide_store(p, i + r, j, nr, body, sums, f32);
  }
}

#define AVX2_KERNEL(MR, NR, F32)                                  \
  do {                                                            \
    avx2_block(problem, i, MR < 2 ? MR : 2, j, NR, F32);          \
    if (MR > 2) avx2_block(problem, i + 2, MR - 2, j, NR, F32);   \
  } while (0)

static AVX2FMA void avx2_blocks_bf16(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR) AVX2_KERNEL(MR, NR, 0)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

static AVX2FMA void avx2_blocks_f32(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR) AVX2_KERNEL(MR, NR, 1)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

AVX2FMA void tq_bf16_gemm_avx2(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w,
                               const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  tq_wide_problem p = {x, k, ldx, w, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, 2 * k, avx2_blocks_bf16);
}

AVX2FMA void tq_f32_gemm_avx2(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w,
                              const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  tq_wide_problem p = {x, k, ldx, w, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, 4 * k, avx2_blocks_f32);
}

#endif
