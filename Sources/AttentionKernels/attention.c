#include "AttentionKernels.h"

#include <math.h>

// Sixteen partial sums let the compiler vectorise the dot products and the
// weighted sums without reassociating float additions; on x86-64 Linux each
// build is picked at load time for the CPU (AVX-512, AVX2 or the baseline).
#define LANES 16
#if defined(__x86_64__) && defined(__linux__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

CLONES
static float dot(const float *a, const float *b, ptrdiff_t n) {
  float partial[LANES] = {0};
  ptrdiff_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) partial[j] += a[i + j] * b[i + j];
  float sum = 0;
  for (int j = 0; j < LANES; j++) sum += partial[j];
  for (; i < n; i++) sum += a[i] * b[i];
  return sum;
}

CLONES
static void add_scaled(float *out, const float *row, float weight, ptrdiff_t n) {
  for (ptrdiff_t i = 0; i < n; i++) out[i] += weight * row[i];
}

void ta_attend_single_query(const float *q, const float *keys, const float *values, ptrdiff_t rows, ptrdiff_t heads,
                            ptrdiff_t width, ptrdiff_t capacity, ptrdiff_t length, float scale, const float *bias,
                            ptrdiff_t bias_row_stride, ptrdiff_t bias_head_stride, float *scratch, float *out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    for (ptrdiff_t h = 0; h < heads; h++) {
      const float *query = q + (r * heads + h) * width;
      const float *k = keys + (r * heads + h) * capacity * width;
      const float *v = values + (r * heads + h) * capacity * width;
      const float *b = bias ? bias + r * bias_row_stride + h * bias_head_stride : NULL;
      float largest = -INFINITY;
      for (ptrdiff_t l = 0; l < length; l++) {
        float score = scale * dot(query, k + l * width, width) + (b ? b[l] : 0.0f);
        scratch[l] = score;
        if (score > largest) largest = score;
      }
      float *o = out + (r * heads + h) * width;
      for (ptrdiff_t d = 0; d < width; d++) o[d] = 0;
      if (largest == -INFINITY) continue;  // every position masked
      float total = 0;
      for (ptrdiff_t l = 0; l < length; l++) {
        scratch[l] = expf(scratch[l] - largest);
        total += scratch[l];
      }
      float inverse = 1.0f / total;
      for (ptrdiff_t l = 0; l < length; l++) add_scaled(o, v + l * width, scratch[l] * inverse, width);
    }
  }
}

// The largest value with sixteen running maxima (a comparison is false for
// NaN, so NaN is never taken), then the first index holding it.
CLONES
static float row_max(const float *x, ptrdiff_t n) {
  float partial[LANES];
  for (int j = 0; j < LANES; j++) partial[j] = -INFINITY;
  ptrdiff_t i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) partial[j] = x[i + j] > partial[j] ? x[i + j] : partial[j];
  float largest = -INFINITY;
  for (int j = 0; j < LANES; j++) largest = partial[j] > largest ? partial[j] : largest;
  for (; i < n; i++) largest = x[i] > largest ? x[i] : largest;
  return largest;
}

void ta_argmax_rows(const float *x, ptrdiff_t rows, ptrdiff_t n, ptrdiff_t *out) {
  for (ptrdiff_t r = 0; r < rows; r++) {
    const float *row = x + r * n;
    float largest = row_max(row, n);
    ptrdiff_t index = 0;
    if (largest > -INFINITY)
      while (row[index] != largest) index++;
    out[r] = index;
  }
}
