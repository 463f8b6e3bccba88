// Int8 and bf16 matrix products for quantized linear layers.
//
// Every function picks, per call, the widest instruction set the CPU has
// (AVX-512 VNNI, AVX-512 BW, AVX2, portable C) up to the cap set with
// tq_set_level_limit; all levels compute the same integer sums, so int8
// results are identical across levels and bf16 results differ only by the
// order of fp32 additions.
#ifndef TESSERA_QUANTIZED_KERNELS_H
#define TESSERA_QUANTIZED_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Int8 rows (weights and quantized activations) are padded to a multiple of this many bytes.
#define TQ_K_ALIGN 64

/// Instruction-set levels: 0 portable C, 1 AVX2, 2 AVX-512 (F+BW), 3 AVX-512 VNNI.
int tq_int8_level(void);
/// 0 portable C, 1 AVX2, 2 AVX-512F (bf16 is widened to fp32 on the fly at every level).
int tq_bf16_level(void);
/// Caps both levels at `level` (tests run every path the CPU has); a negative value removes the cap.
void tq_set_level_limit(int level);
/// "avx512-vnni", "avx512", "avx2" or "portable": the level in use, for benchmark headers.
const char *tq_int8_name(void);
const char *tq_bf16_name(void);

/// Quantizes each row of x [m x k] (row stride ldx floats) to int8 with its own
/// symmetric scale s = max|x| / 127 (q = round-to-nearest(x / s), |q| <= 127;
/// an all-zero row gets s = 0 and q = 0) and stores q + 128 as uint8 in
/// xq [m x kp] (kp >= k, a multiple of TQ_K_ALIGN; bytes past k hold 128)
/// and s in xscale[m]. q is x * (127 / max|x|) (that float product) rounded to
/// nearest even and clamped to [-127, 127], the same bits at every level.
/// Non-finite input is defined, never undefined behaviour: NaN elements are
/// skipped by the max and get q = 0; a row holding ±inf gets s = inf and q = 0
/// everywhere (127 / inf = 0, and inf * 0 is NaN); a row whose max is subnormal
/// gets 127 / max = inf, so its nonzero elements clamp to ±127 (s underflows to 0).
void tq_quantize_rows_u8(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, ptrdiff_t kp, uint8_t *xq,
                         float *xscale);

/// y[i*ldy + j] = xscale[i] * wscale[j] * sum_c (xq[i*kp + c] - 128) * w[j*kp + c] + (bias ? bias[j] : 0)
/// for 0 <= i < m and j0 <= j < j1. w is int8 [n x kp], zero past the real k;
/// wsum[j] = sum_c w[j*kp + c] (the correction for xq's +128 offset).
void tq_int8_gemm(const uint8_t *xq, const float *xscale, ptrdiff_t m, ptrdiff_t kp, const int8_t *w,
                  const float *wscale, const int32_t *wsum, const float *bias, ptrdiff_t j0, ptrdiff_t j1, float *y,
                  ptrdiff_t ldy);

/// y[i*ldy + j] = sum_c x[i*ldx + c] * float(w[j*k + c]) + (bias ? bias[j] : 0), fp32 accumulation,
/// for 0 <= i < m and j0 <= j < j1; w holds bf16 bit patterns [n x k] (a bf16 is the top half of a float).
void tq_bf16_gemm(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const uint16_t *w, const float *bias,
                  ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);

/// The same product with fp32 weights w [n x k]: the GEMV of a decoding step
/// (a few rows), at the bf16 level, bandwidth-bound like the quantized ones.
void tq_f32_gemm(const float *x, ptrdiff_t m, ptrdiff_t k, ptrdiff_t ldx, const float *w, const float *bias,
                 ptrdiff_t j0, ptrdiff_t j1, float *y, ptrdiff_t ldy);

#ifdef __cplusplus
}
#endif

#endif
