// Attention of one new query per row and head over cached keys and values:
// the whole of a decoding step's attention in one call, without building
// score tensors or calling a matrix product per head.
#ifndef TESSERA_ATTENTION_KERNELS_H
#define TESSERA_ATTENTION_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// For each row r < rows and head h < heads, with p = softmax over l < length of
///   scale * dot(q[r, h, :], keys[r, h, l, :]) + bias[r * bias_row_stride + h * bias_head_stride + l],
/// writes out[r, h, :] = sum_l p[l] * values[r, h, l, :].
/// q and out are [rows, heads, width]; keys and values [rows, heads, capacity, width]
/// (positions past `length` are ignored); bias may be NULL (no bias), its strides 0 to broadcast.
/// A bias of -inf masks a position; a row whose positions are all masked gets zeros.
/// `scratch` holds `length` floats.
void ta_attend_single_query(const float *q, const float *keys, const float *values, ptrdiff_t rows, ptrdiff_t heads,
                            ptrdiff_t width, ptrdiff_t capacity, ptrdiff_t length, float scale, const float *bias,
                            ptrdiff_t bias_row_stride, ptrdiff_t bias_head_stride, float *scratch, float *out);

/// For each row r < rows of x [rows x n]: the index of its largest element
/// (the first of equal ones; NaN never wins; 0 when no element is above
/// -inf), into out[r]. The greedy choice of every decoding step.
void ta_argmax_rows(const float *x, ptrdiff_t rows, ptrdiff_t n, ptrdiff_t *out);

#ifdef __cplusplus
}
#endif

#endif
