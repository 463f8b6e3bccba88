// Portable reference implementations (level 0); the SIMD levels must agree with them.
#include "levels.h"

#include <string.h>

#pragma STDC FP_CONTRACT OFF

void tq_quantize_rows_u8_portable(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp,
                                  uint8_t *xq, float *xscale) {
  for (ptrdiff_t i = 0; i < m; i++) {
    const float *row = x + i * ldx;
    float largest = 0;  // fmaxf skips NaN
    for (ptrdiff_t c = 0; c < k; c++) largest = fmaxf(largest, fabsf(row[c]));
    float scale = largest / 127.0f, inverse = largest > 0 ? 127.0f / largest : 0;
    uint8_t *out = xq + i * kp;
    for (ptrdiff_t c = 0; c < k; c++) out[c] = tq_quantize_one(row[c] * inverse);
    memset(out + k, 128, (size_t)(kp - k));
    xscale[i] = scale;
  }
}

void tq_int8_gemm_portable(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                           const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1,
                           float *y, ptrdiff_t ldy) {
  for (ptrdiff_t i = 0; i < m; i++) {
    for (ptrdiff_t j = j0; j < j1; j++) {
      int32_t sum = 0;
      for (ptrdiff_t c = 0; c < kp; c++) sum += (int32_t)xq[i * kp + c] * (int32_t)w[j * kp + c];
      sum -= 128 * wsum[j];
      y[i * ldy + j] = xscale[i] * wscale[j] * (float)sum + (bias ? bias[j] : 0.0f);
    }
  }
}

void tq_bf16_gemm_portable(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w,
                           const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  for (ptrdiff_t i = 0; i < m; i++) {
    for (ptrdiff_t j = j0; j < j1; j++) {
      float sum = 0;
      for (ptrdiff_t c = 0; c < k; c++) sum += x[i * ldx + c] * tq_bf16_to_float(w[j * k + c]);
      y[i * ldy + j] = sum + (bias ? bias[j] : 0.0f);
    }
  }
}

void tq_f32_gemm_portable(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w,
                          const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  for (ptrdiff_t i = 0; i < m; i++) {
    for (ptrdiff_t j = j0; j < j1; j++) {
      float sum = 0;
      for (ptrdiff_t c = 0; c < k; c++) sum += x[i * ldx + c] * w[j * k + c];
      y[i * ldy + j] = sum + (bias ? bias[j] : 0.0f);
    }
  }
}
