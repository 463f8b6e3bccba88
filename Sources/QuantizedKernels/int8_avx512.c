// Int8 products at level 3 (AVX-512 VNNI) and level 2 (AVX-512 BW), and the
// AVX-512F quantizer both levels use. Compiled for baseline x86-64; each
// function carries its own target attribute and runs only where
// dispatch.c found the instructions.
#include "levels.h"

#if defined(__x86_64__)

#include <string.h>

#pragma STDC FP_CONTRACT OFF

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define AVX512 __attribute__((target("avx512f,avx512bw")))
#define INLINE static inline __attribute__((always_inline))

// The 16 accumulators of a block, reduced to one vector whose 128-bit lane r
// holds the sums of row r's four outputs: per row, two unpack rounds leave each
// lane with partial sums of all four outputs, then the four rows' lanes are
// transposed and added (far cheaper than 16 horizontal reductions).
INLINE AVX512 __m512i sum16(__m512i acc[4][4]) {
  __m512i row[4];
  for (int r = 0; r < 4; r++) {
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[r][0], acc[r][1]), _mm512_unpackhi_epi32(acc[r][0], acc[r][1]));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(acc[r][2], acc[r][3]), _mm512_unpackhi_epi32(acc[r][2], acc[r][3]));
    row[r] = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  }
  __m512i r01 = _mm512_add_epi32(_mm512_shuffle_i64x2(row[0], row[1], 0x44), _mm512_shuffle_i64x2(row[0], row[1], 0xee));
  __m512i r23 = _mm512_add_epi32(_mm512_shuffle_i64x2(row[2], row[3], 0x44), _mm512_shuffle_i64x2(row[2], row[3], 0xee));
  return _mm512_add_epi32(_mm512_shuffle_i64x2(r01, r23, 0x88), _mm512_shuffle_i64x2(r01, r23, 0xdd));
}

INLINE AVX512 void store_row(float *out, __m128 y, int nr) {
  if (nr == 4) {
    _mm_storeu_ps(out, y);
    return;
  }
  float lane[4];
  _mm_storeu_ps(lane, y);
  for (int o = 0; o < nr; o++) out[o] = lane[o];
}

// y for rows i ..< i + mr and outputs j ..< j + nr from the block's sums (lane
// 4r + o), all 16 at once with the portable path's float expression: the same
// operations in the same order, so y is bit-identical. Masked loads read
// nothing past j + nr or i + mr.
INLINE AVX512 void store_block(const tq_int8_problem *p, ptrdiff_t i, int mr, ptrdiff_t j, int nr, __m512i sums) {
  __mmask16 outputs = (__mmask16)((1u << nr) - 1), rows = (__mmask16)((1u << mr) - 1);
  __m512i wsum = _mm512_maskz_loadu_epi32(outputs, p->wsum + j);
  __m512 wscale = _mm512_maskz_loadu_ps(outputs, p->wscale + j);
  __m512 bias = p->bias ? _mm512_maskz_loadu_ps(outputs, p->bias + j) : _mm512_setzero_ps();
  // The four outputs' values repeated in every 128-bit lane (one lane per row).
  wsum = _mm512_shuffle_i32x4(wsum, wsum, 0);
  wscale = _mm512_shuffle_f32x4(wscale, wscale, 0);
  bias = _mm512_shuffle_f32x4(bias, bias, 0);
  __m512i row_of_lane = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
  __m512 xscale = _mm512_permutexvar_ps(row_of_lane, _mm512_maskz_loadu_ps(rows, p->xscale + i));
  __m512 sum = _mm512_cvtepi32_ps(_mm512_sub_epi32(sums, _mm512_slli_epi32(wsum, 7)));
  __m512 y = _mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(xscale, wscale), sum), bias);
  float *out = p->y + i * p->ldy + j;
  store_row(out, _mm512_castps512_ps128(y), nr);
  if (mr > 1) store_row(out + p->ldy, _mm512_extractf32x4_ps(y, 1), nr);
  if (mr > 2) store_row(out + 2 * p->ldy, _mm512_extractf32x4_ps(y, 2), nr);
  if (mr > 3) store_row(out + 3 * p->ldy, _mm512_extractf32x4_ps(y, 3), nr);
}

// Rows i ..< i + mr by outputs j ..< j + nr; xq is u8 and w is s8, which is
// exactly what vpdpbusd multiplies (4 products per 32-bit lane, no saturation).
INLINE VNNI void vnni_block(const tq_int8_problem *p, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
  ptrdiff_t kp = p->kp;
  const uint8_t *x = p->xq + i * kp;
  const int8_t *w = p->w + j * kp;
  __m512i acc[4][4];
  for (int r = 0; r < 4; r++)
    for (int o = 0; o < 4; o++) acc[r][o] = _mm512_setzero_si512();
  for (int o = 0; o < nr; o++)
    for (ptrdiff_t c = 0; c < kp; c += 64) {
      __m512i wv = _mm512_loadu_si512(w + o * kp + c);
      for (int r = 0; r < mr; r++) acc[r][o] = _mm512_dpbusd_epi32(acc[r][o], _mm512_loadu_si512(x + r * kp + c), wv);
    }
  store_block(p, i, mr, j, nr, sum16(acc));
}

static VNNI void vnni_blocks(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR) vnni_block(problem, i, MR, j, NR)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

VNNI void tq_int8_gemm_vnni(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                            const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                            float *y, ptrdiff_t ldy) {
  tq_int8_problem p = {xq, xscale, kp, w, wscale, wsum, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, kp, vnni_blocks);
}

// Without VNNI: vpmaddubsw would saturate (255 * 127 * 2 > 32767), so both
// operands are widened to 16 bits and vpmaddwd sums pairs exactly into 32 bits.
INLINE AVX512 void avx512_block(const tq_int8_problem *p, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
  ptrdiff_t kp = p->kp;
  const uint8_t *x = p->xq + i * kp;
  const int8_t *w = p->w + j * kp;
  __m512i acc[4][4];
  for (int r = 0; r < 4; r++)
    for (int o = 0; o < 4; o++) acc[r][o] = _mm512_setzero_si512();
  for (int o = 0; o < nr; o++)
    for (ptrdiff_t c = 0; c < kp; c += 32) {
      __m512i wv = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(w + o * kp + c)));
      for (int r = 0; r < mr; r++) {
        __m512i xv = _mm512_cvtepu8_epi16(_mm256_loadu_si256((const __m256i *)(x + r * kp + c)));
        acc[r][o] = _mm512_add_epi32(acc[r][o], _mm512_madd_epi16(xv, wv));
      }
    }
  store_block(p, i, mr, j, nr, sum16(acc));
}

static AVX512 void avx512_blocks(const void *problem, ptrdiff_t i, int mr, ptrdiff_t j, int nr) {
#define KERNEL(MR, NR) avx512_block(problem, i, MR, j, NR)
  TQ_SWITCH_SHAPE(mr, nr, KERNEL)
#undef KERNEL
}

AVX512 void tq_int8_gemm_avx512(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                                const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0,
                                ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  tq_int8_problem p = {xq, xscale, kp, w, wscale, wsum, bias, y, ldy};
  tq_sweep(&p, m, j0, j1, kp, avx512_blocks);
}

// The portable quantizer 16 floats at a time. Max is exact in any order, and
// vmaxps returns its second operand when the first is NaN, so NaN is skipped as
// fmaxf skips it; the products are the same float multiply, clamped, NaN lanes
// set to q = 0, and vcvtps2dq rounds to nearest even (the default MXCSR mode,
// the same mode nearbyintf uses).
__attribute__((target("avx512f"))) void tq_quantize_rows_u8_avx512(const float *x, ptrdiff_t m, ptrdiff_t k,
                                                                   ptrdiff_t ldx, ptrdiff_t kp, uint8_t *xq,
                                                                   float *xscale) {
  const __m512 low = _mm512_set1_ps(-127.0f), high = _mm512_set1_ps(127.0f);
  const __m512i offset = _mm512_set1_epi32(128);
  for (ptrdiff_t i = 0; i < m; i++) {
    const float *row = x + i * ldx;
    __m512 largest = _mm512_setzero_ps();
    for (ptrdiff_t c = 0; c < k; c += 16) {
      __mmask16 lanes = k - c >= 16 ? 0xffff : (__mmask16)((1u << (k - c)) - 1);
      largest = _mm512_max_ps(_mm512_abs_ps(_mm512_maskz_loadu_ps(lanes, row + c)), largest);
    }
    float top = _mm512_reduce_max_ps(largest);
    float scale = top / 127.0f, inverse = top > 0 ? 127.0f / top : 0;
    __m512 factor = _mm512_set1_ps(inverse);
    uint8_t *out = xq + i * kp;
    for (ptrdiff_t c = 0; c < k; c += 16) {
      __mmask16 lanes = k - c >= 16 ? 0xffff : (__mmask16)((1u << (k - c)) - 1);
      __m512 product = _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, row + c), factor);
      __mmask16 numbers = _mm512_cmp_ps_mask(product, product, _CMP_ORD_Q);
      __m512i q = _mm512_cvtps_epi32(_mm512_min_ps(_mm512_max_ps(product, low), high));
      _mm512_mask_cvtepi32_storeu_epi8(out + c, lanes, _mm512_mask_add_epi32(offset, numbers, q, offset));
    }
    memset(out + k, 128, (size_t)(kp - k));
    xscale[i] = scale;
  }
}

#endif
