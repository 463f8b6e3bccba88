// Int8 products and the quantizer at level 1 (AVX2), compiled for baseline
// x86-64 with per-function target attributes.
#include "levels.h"

#if defined(__x86_64__)

#include <string.h>

#pragma STDC FP_CONTRACT OFF

#define AVX2 __attribute__((target("avx2")))
#define INLINE static inline __attribute__((always_inline))

// [sum(a), sum(b), sum(c), sum(d)] of four 8-lane accumulators (see int8_avx512.c).
INLINE AVX2 __m128i sum4(__m256i a, __m256i b, __m256i c, __m256i d) {
  __m256i ab = _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
  __m256i cd = _mm256_add_epi32(_mm256_unpacklo_epi32(c, d), _mm256_unpackhi_epi32(c, d));
  __m256i abcd = _mm256_add_epi32(_mm256_unpacklo_epi64(ab, cd), _mm256_unpackhi_epi64(ab, cd));
  return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

// Writes y for row i and outputs j ..< j + nr from their sums of xq * w with
// the portable path's float expression (same operations in the same order, no
// FMA), so y is bit-identical.
INLINE AVX2 void store_row(const tq_int8_problem *p, ptrdiff_t i, ptrdiff_t j, int nr, __m128i sums) {
  float *out = p->y + i * p->ldy + j;
  float xscale = p->xscale[i];
  if (nr == 4) {
    __m128i sum = _mm_sub_epi32(sums, _mm_slli_epi32(_mm_loadu_si128((const __m128i *)(p->wsum + j)), 7));
    __m128 scale = _mm_mul_ps(_mm_set1_ps(xscale), _mm_loadu_ps(p->wscale + j));
    __m128 bias = p->bias ? _mm_loadu_ps(p->bias + j) : _mm_setzero_ps();
    _mm_storeu_ps(out, _mm_add_ps(_mm_mul_ps(scale, _mm_cvtepi32_ps(sum)), bias));
    return;
  }
  int32_t lane[4];
  _mm_storeu_si128((__m128i *)lane, sums);
  for (int o = 0; o < nr; o++) {
    int32_t sum = lane[o] - 128 * p->wsum[j + o];
    out[o] = xscale * p->wscale[j + o] * (float)sum + (p->bias ? p->bias[j + o] : 0.0f);
  }
}

// Rows i ..< i + mr (mr <= 2) by outputs j ..< j + nr: both operands widened to
// 16 bits so vpmaddwd sums pairs exactly (vpmaddubsw would saturate). Two rows
// at a time, since 4 x 4 accumulators would not fit in AVX2's 16 registers; the
// second row pair rereads the weight chunks from L1.
INLINE AVX2 void avx2_block(const tq_int8_problem *p, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
  ptrdiff_t kp = p->kp;
  const uint8_t *x = p->xq + i * kp;
  const int8_t *w = p->w + j * kp;
  __m256i acc[2][4];
  for (int r = 0; r < 2; r++)
    for (int o = 0; o < 4; o++) acc[r][o] = _mm256_setzero_si256();
  for (int o = 0; o < nr; o++)
    for (ptrdiff_t c = 0; c < kp; c += 16) {
      __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + o * kp + c)));
      for (int r = 0; r < mr; r++) {
        __m256i xv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(x + r * kp + c)));
        acc[r][o] = _mm256_add_epi32(acc[r][o], _mm256_madd_epi16(xv, wv));
      }
    }
  for (int r = 0; r < mr; r++) store_row(p, i + r, j, nr, sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
}

static AVX2 void avx2_blocks(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR)                                         \
  do {                                                         \
    avx2_block(problem, i, MR < 2 ? MR : 2, j, NR);            \
    if (MR > 2) avx2_block(problem, i + 2, MR - 2, j, NR);     \
  } while (0)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

AVX2 void tq_int8_gemm_avx2(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                            const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                            float *y, ptrdiff_t ldy) {
  tq_int8_problem p = {xq, xscale, kp, w, wscale, wsum, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, kp, avx2_blocks);
}

// The portable quantizer 8 floats at a time, the k % 8 tail with the portable
// step itself (see the AVX-512 quantizer for why the results are identical).
AVX2 void tq_quantize_rows_u8_avx2(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp,
                                   uint8_t *xq, float *xscale) {
  const __m256 magnitude = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 low = _mm256_set1_ps(-127.0f), high = _mm256_set1_ps(127.0f);
  const __m256i offset = _mm256_set1_epi32(128);
  ptrdiff_t body = k / 8 * 8;
  for (ptrdiff_t i = 0; i < m; i++) {
    const float *row = x + i * ldx;
    __m256 largest = _mm256_setzero_ps();
    for (ptrdiff_t c = 0; c < body; c += 8)
      largest = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(row + c), magnitude), largest);
    __m128 half = _mm_max_ps(_mm256_castps256_ps128(largest), _mm256_extractf128_ps(largest, 1));
    half = _mm_max_ps(half, _mm_movehl_ps(half, half));
    half = _mm_max_ss(half, _mm_shuffle_ps(half, half, 1));
    float top = _mm_cvtss_f32(half);
    for (ptrdiff_t c = body; c < k; c++) top = fmaxf(top, fabsf(row[c]));
    float scale = top / 127.0f, inverse = top > 0 ? 127.0f / top : 0;
    __m256 factor = _mm256_set1_ps(inverse);
    uint8_t *out = xq + i * kp;
    for (ptrdiff_t c = 0; c < body; c += 8) {
      __m256 product = _mm256_mul_ps(_mm256_loadu_ps(row + c), factor);
      __m256i numbers = _mm256_castps_si256(_mm256_cmp_ps(product, product, _CMP_ORD_Q));
      __m256i q = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(product, low), high));
      q = _mm256_add_epi32(_mm256_and_si256(q, numbers), offset);  // NaN lanes: q = 0
      __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64((__m128i *)(out + c), _mm_packus_epi16(words, words));
    }
    for (ptrdiff_t c = body; c < k; c++) out[c] = tq_quantize_one(row[c] * inverse);
    memset(out + k, 128, (size_t)(kp - k));
    xscale[i] = scale;
  }
}

#endif
