// Portable reference implementations (level 0); the SIMD levels must agree with them.
#include "QuantizedKernels.h"

#include <math.h>
#include <string.h>

int tq_int8_level(void) { return 0; }
int tq_bf16_level(void) { return 0; }
void tq_set_level_limit(int level) { (void)level; }
const char *tq_int8_name(void) { return "portable"; }
const char *tq_bf16_name(void) { return "portable"; }

void tq_quantize_rows_u8(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp, uint8_t *xq,
                         float *xscale) {
  for (ptrdiff_t i = 0; i < m; i++) {
    const float *row = x + i * ldx;
    float largest = 0;
    for (ptrdiff_t c = 0; c < k; c++) largest = fmaxf(largest, fabsf(row[c]));
    float scale = largest / 127.0f, inverse = largest > 0 ? 127.0f / largest : 0;
    uint8_t *out = xq + i * kp;
    for (ptrdiff_t c = 0; c < k; c++) out[c] = (uint8_t)(128 + (int)nearbyintf(row[c] * inverse));
    memset(out + k, 128, (size_t)(kp - k));
    xscale[i] = scale;
  }
}

void tq_int8_gemm(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                  const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y,
                  ptrdiff_t ldy) {
  for (ptrdiff_t i = 0; i < m; i++) {
    for (ptrdiff_t j = j0; j < j1; j++) {
      int32_t sum = 0;
      for (ptrdiff_t c = 0; c < kp; c++) sum += (int32_t)xq[i * kp + c] * (int32_t)w[j * kp + c];
      sum -= 128 * wsum[j];
      y[i * ldy + j] = xscale[i] * wscale[j] * (float)sum + (bias ? bias[j] : 0.0f);
    }
  }
}

static inline float bf16_to_float(uint16_t bits) {
  uint32_t word = (uint32_t)bits << 16;
  float value;
  memcpy(&value, &word, sizeof value);
  return value;
}

void tq_bf16_gemm(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w, const float *bias,
                  ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy) {
  for (ptrdiff_t i = 0; i < m; i++) {
    for (ptrdiff_t j = j0; j < j1; j++) {
      float sum = 0;
      for (ptrdiff_t c = 0; c < k; c++) sum += x[i * ldx + c] * bf16_to_float(w[j * k + c]);
      y[i * ldy + j] = sum + (bias ? bias[j] : 0.0f);
    }
  }
}
