import NeuralLayers
import Seq2SeqModels
import TensorCore

/// The loss of one hybrid step and its parts (plain numbers, for progress and logs).
struct HybridLoss {
  var total: Tensor
  var crossEntropy: Float
  var logits: Float
  /// Relative hidden-state error of each module in the hybrid.
  var hiddenByModule: [ModuleSpan: Float]
  var attention: Float
}

/// One distillation step's forward pass: the frozen teacher once without
/// gradients (logits, hidden states at every layer boundary, attention at the
/// spans' last layers), then the hybrid, which starts from the teacher's
/// hidden state where the two first differ.
struct HybridDistillation {
  let teacher: any Seq2SeqModel
  let modules: ModuleSet
  let weights: DistillationWeights
  let temperature: Float
  /// Where several processes share a step, the divisors of the hidden-state and attention terms are summed over them.
  var normalizers = ShardNormalizers()

  func loss(_ batch: Seq2SeqBatch, plan: AssemblyPlan) -> HybridLoss { loss(batch, plans: [plan]) }

  /// The summed loss of several hybrids on one batch, beside one teacher
  /// pass; each module's gradient is what its plan alone would give (plans
  /// share no module). The reported parts are means over the plans.
  ///
  /// With `backward`, each hybrid's gradients are accumulated into the
  /// modules as soon as its loss is known, so only one hybrid's graph (its
  /// [tokens, vocabulary] logits above all) is alive at a time; `total` is
  /// then the summed value without a graph.
  func loss(_ batch: Seq2SeqBatch, plans: [AssemblyPlan], backward: Bool = false) -> HybridLoss {
    let lastLayers = { (stack: StackRole) in Set(plans.flatMap { plan in plan.pieces(stack).compactMap { piece -> Int? in
      if case .module(let span) = piece { span.end - 1 } else { nil }
    } }) }
    let encoderTaps = StackTaps(attentionBlocks: lastLayers(.encoder))
    let decoderTaps = StackTaps(attentionBlocks: lastLayers(.decoder))
    let teacherLogits = withoutGradient { teacher.forward(batch, encoderTaps: encoderTaps, decoderTaps: decoderTaps) }
    let parts = plans.map { plan in
      var part = hybridLoss(batch, plan: plan, teacherLogits: teacherLogits, encoderTaps: encoderTaps, decoderTaps: decoderTaps)
      if backward { part.total = Self.backpropagated(part.total) }
      return part
    }
    let count = Float(parts.count)
    return HybridLoss(
      total: parts.dropFirst().map(\.total).reduce(parts[0].total, +), crossEntropy: parts.map(\.crossEntropy).reduce(0, +) / count,
      logits: parts.map(\.logits).reduce(0, +) / count,
      hiddenByModule: parts.reduce(into: [:]) { merged, part in merged.merge(part.hiddenByModule) { a, _ in a } },
      attention: parts.map(\.attention).reduce(0, +) / count)
  }

  /// One hybrid's loss against the teacher's recorded pass.
  private func hybridLoss(
    _ batch: Seq2SeqBatch, plan: AssemblyPlan, teacherLogits: Tensor, encoderTaps: StackTaps, decoderTaps: StackTaps
  ) -> HybridLoss {
    var terms = Terms()
    let (b, t) = (batch.batchSize, batch.targetLength)
    let encoderChanged = plan.encoder.contains { if case .module = $0 { true } else { false } }
    let memory: Tensor
    if encoderChanged {
      let hidden = run(
        teacher.encoder, plan.encoder, taps: encoderTaps, context: encoderContext(batch), keep: batch.sourceKeep, terms: &terms,
        embed: nil)
      memory = teacher.encoder.finish(hidden, dropout: nil)
    } else {
      memory = encoderTaps.output!
    }
    let decoderKeep = batch.labelKeep
    let context = decoderContext(batch, memory: memory)
    // A changed encoder changes every decoder layer through cross-attention: run the decoder whole.
    let embed: (() -> Tensor)? =
      encoderChanged
      ? { teacher.decoder.embed(batch.decoderInputIDs, batch: b, length: t, pastLength: 0, dropout: nil) } : nil
    let hidden = run(teacher.decoder, plan.decoder, taps: decoderTaps, context: context, keep: decoderKeep, terms: &terms, embed: embed)
    let logits = teacher.logits(teacher.decoder.finish(hidden, dropout: nil))

    let crossEntropy = teacher.loss(logits: logits, batch: batch)
    let rows = batch.labels.map { $0 != -100 }
    let distillation = logits.reshaped([-1, teacher.vocabularySize]).klDivergence(
      teacherLogits: teacherLogits.reshaped([-1, teacher.vocabularySize]), temperature: temperature, rowMask: rows)
    var total = crossEntropy.scaled(by: weights.crossEntropy) + distillation.scaled(by: weights.logits)
    if !terms.hidden.isEmpty {
      let mean = terms.hidden.map(\.value).dropFirst().reduce(terms.hidden[0].value, +).scaled(by: 1 / Float(terms.hidden.count))
      total = total + mean.scaled(by: weights.hidden)
    }
    var attentionValue: Float = 0
    if !terms.attention.isEmpty {
      let mean = terms.attention.dropFirst().reduce(terms.attention[0], +).scaled(by: 1 / Float(terms.attention.count))
      attentionValue = mean.item()
      total = total + mean.scaled(by: weights.attention)
    }
    return HybridLoss(
      total: total, crossEntropy: crossEntropy.item(), logits: distillation.item(),
      hiddenByModule: Dictionary(terms.hidden.map { ($0.span, $0.value.item()) }, uniquingKeysWith: { a, _ in a }),
      attention: attentionValue)
  }

  /// The local stage's loss: every module at once, each run alone on the
  /// teacher's hidden state at its span's start and regressed on the
  /// teacher's state at its end (relative error, mean over modules). One
  /// teacher pass trains all modules, so each sees every local step, where a
  /// hybrid step trains only the modules it holds.
  ///
  /// With `backward`, each module's gradient is accumulated as soon as its
  /// error is known (one module's graph alive at a time); `total` is then a value.
  func localLoss(_ batch: Seq2SeqBatch, backward: Bool = false) -> HybridLoss {
    let encoderTaps = StackTaps(attentionBlocks: [])
    let decoderTaps = StackTaps(attentionBlocks: [])
    _ = withoutGradient { teacher.forward(batch, encoderTaps: encoderTaps, decoderTaps: decoderTaps) }
    let (b, s, t) = (batch.batchSize, batch.sourceLength, batch.targetLength)
    let decoderKeep = batch.labelKeep
    var errors: [(span: ModuleSpan, value: Tensor)] = []
    let moduleCount = Float(modules.spans.count)
    for stack in StackRole.allCases {
      let spans = modules.spans.filter { $0.stack == stack }
      guard !spans.isEmpty else { continue }
      let taps = stack == .encoder ? encoderTaps : decoderTaps
      let context = stack == .encoder ? encoderContext(batch) : decoderContext(batch, memory: encoderTaps.output)
      let keep = stack == .encoder ? batch.sourceKeep : decoderKeep
      let rowMask = Tensor(keep, shape: [b, stack == .encoder ? s : t, 1])
      for span in spans {
        guard let block = modules.blocks[span] else { continue }
        let output = block(taps.hiddenStates[span.start], context: context, cache: nil, taps: nil)
        let error = Self.relativeError(output, taps.hiddenStates[span.end], mask: rowMask, divisor: normalizers.divisor)
        // The total is the mean error, so each module's gradient is scaled by 1 / modules.
        if backward { error.scaled(by: 1 / moduleCount).backward() }
        errors.append((span, backward ? error.detached() : error))
      }
    }
    guard let first = errors.first else { return HybridLoss(total: Tensor.zeros([1]), crossEntropy: 0, logits: 0, hiddenByModule: [:], attention: 0) }
    let total = errors.dropFirst().map(\.value).reduce(first.value, +).scaled(by: 1 / Float(errors.count))
    return HybridLoss(
      total: total, crossEntropy: 0, logits: 0,
      hiddenByModule: Dictionary(errors.map { ($0.span, $0.value.item()) }, uniquingKeysWith: { a, _ in a }), attention: 0)
  }

  /// The teacher encoder's masks and biases for `batch`, without dropout.
  private func encoderContext(_ batch: Seq2SeqBatch) -> BlockContext {
    teacher.encoder.context(
      batch: batch.batchSize, queries: batch.sourceLength, pastLength: 0, keyKeep: batch.sourceKeep, memory: nil,
      memoryKeep: nil, dropout: nil)
  }

  /// The teacher decoder's masks and biases for `batch`, attending to `memory`, without dropout.
  private func decoderContext(_ batch: Seq2SeqBatch, memory: Tensor?) -> BlockContext {
    teacher.decoder.context(
      batch: batch.batchSize, queries: batch.targetLength, pastLength: 0, keyKeep: batch.decoderKeep, memory: memory,
      memoryKeep: batch.sourceKeep, dropout: nil)
  }

  /// Loss terms of the modules met in one pass.
  private struct Terms {
    var hidden: [(span: ModuleSpan, value: Tensor)] = []
    var attention: [Tensor] = []
  }

  /// Keeps what a module's attention tap hands over.
  private final class Captured { var value: Tensor? }

  /// Runs `pieces` of `stack`. Without `embed`, the pieces before the first
  /// module are skipped: their output is the teacher's recorded hidden state.
  private func run(
    _ stack: any LayerStack, _ pieces: [PlanPiece], taps: StackTaps, context: BlockContext, keep: [Float],
    terms: inout Terms, embed: (() -> Tensor)?
  ) -> Tensor {
    let firstModule = pieces.firstIndex { if case .module = $0 { true } else { false } } ?? pieces.count
    let startPiece = embed == nil ? firstModule : 0
    guard startPiece < pieces.count else { return taps.hiddenStates[stack.depth] }
    var hidden = embed?() ?? taps.hiddenStates[pieces[startPiece].layers.lowerBound]
    let shape = hidden.shape
    let rowMask = Tensor(keep, shape: [shape[0], shape[1], 1])
    for piece in pieces[startPiece...] {
      switch piece {
      case .teacher(let layer):
        hidden = stack.blocks[layer](hidden, context: context, cache: nil, taps: nil)
      case .module(let span):
        let captured = Captured()
        let wantsAttention = weights.attention > 0
        let attentionTaps = wantsAttention ? AttentionTaps(selfAttention: { captured.value = $0 }) : nil
        hidden = modules.blocks[span]!(hidden, context: context, cache: nil, taps: attentionTaps)
        terms.hidden.append((span, Self.relativeError(hidden, taps.hiddenStates[span.end], mask: rowMask, divisor: normalizers.divisor)))
        if wantsAttention, let student = captured.value, let reference = taps.selfAttention[span.end - 1] {
          terms.attention.append(attentionError(student, reference, keep: keep))
        }
      }
    }
    return hidden
  }

  /// Runs `loss`'s backward pass and returns its value without a graph.
  private static func backpropagated(_ loss: Tensor) -> Tensor {
    loss.backward()
    return loss.detached()
  }

  /// `Σ((h − t)·m)² / Σ(t·m)²`: the hidden-state error relative to the
  /// teacher's magnitude, over real tokens only. Shared with the kd baseline,
  /// so modules and students are judged by one hidden-state error. `divisor`
  /// maps this process's `Σ(t·m)²` to the one to divide by (see ``ShardNormalizers``).
  static func relativeError(
    _ hidden: Tensor, _ target: Tensor, mask: Tensor, divisor: (Float) -> Float = { $0 }
  ) -> Tensor {
    let difference = (hidden - target) * mask
    let scale = divisor(withoutGradient { (target * mask).multiplying(target * mask).sum().item() })
    return difference.multiplying(difference).sum().scaled(by: 1 / max(scale, 1e-12))
  }

  /// Squared error of attention rows `[B, H, T, L]`, summed over keys and
  /// averaged over the heads and real query positions.
  private func attentionError(_ student: Tensor, _ reference: Tensor, keep: [Float]) -> Tensor {
    let (b, h, t) = (student.shape[0], student.shape[1], student.shape[2])
    let rows = Tensor(keep, shape: [b, 1, t, 1])
    let difference = (student - reference) * rows
    let counted = normalizers.divisor(max(1, keep.reduce(0, +)) * Float(h))
    return difference.multiplying(difference).sum().scaled(by: 1 / counted)
  }
}
