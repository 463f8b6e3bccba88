#!/usr/bin/env python3
"""Writes the reference fixtures for TokenizersTests.

Builds four tiny tokenizers on a seeded, generated corpus, saves each
`tokenizer.json` with the Hugging Face `tokenizers` library, and records how
that library encodes and decodes a fixed list of awkward strings (with and
without special tokens, truncated, half the ids decoded) and how it decodes
random id lists. The Swift tests must reproduce every id and every decoded
string exactly. Output: Tests/TokenizersTests/Fixtures/<name>.tokenizer.json
and tokenizer_cases.json; running it again gives the same bytes.

  unigram_t5        Unigram laid out as transformers' T5 converter does it:
                    Sequence[Precompiled, Strip(right), Replace(" {2,}", "▁")],
                    Metaspace(always), "$A </s>", Metaspace decoder, sentinels.
                    Pieces and the precompiled charsmap come from sentencepiece
                    (as for real T5); the charsmap is compiled from our own
                    small rule table (NFKC of a few Unicode blocks, control
                    characters dropped, tabs/newlines to spaces, a few
                    base + combining mark compositions), so the fixture stays
                    small but goes through the real binary format.
  unigram_legacy    Same vocabulary, the older T5 layout: NFKC normalizer,
                    Sequence[WhitespaceSplit, Metaspace] with the legacy
                    `add_prefix_space` key instead of `prepend_scheme`.
  unigram_bytes     Unigram with byte fallback: NFKC + Lowercase + Strip,
                    Metaspace(first, no split), "<s> $A </s>", decoder
                    Sequence[Replace, ByteFallback, Fuse, Strip], and one
                    normalized, non-special added token.
  bart_bpe          Byte-level BPE laid out like BART's: ByteLevel
                    pre-tokenizer and decoder, RobertaProcessing, <mask> with
                    lstrip.

sentencepiece trains the Unigram pieces because its trainer is reproducible
(the `tokenizers` Unigram trainer is not, run to run).

Needs: tokenizers, sentencepiece. Run from anywhere:
  python3 Tests/Reference/make_tokenizer_fixtures.py
"""
import json
import os
import random
import struct
import tempfile
import unicodedata

import sentencepiece as spm
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers
from tokenizers import pre_tokenizers, processors, trainers

SEED = 1234
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "TokenizersTests", "Fixtures")
TRUNCATE_TO = 6


def make_corpus(rng):
    syllables = ("ka ri to ne su mo la pe di gu ba ze ho fi ch sh th ing ed er an re in on at "
                 "st qu ly ment tion pre con").split()
    words = ["".join(rng.choice(syllables) for _ in range(rng.randint(1, 4))) for _ in range(700)]
    words += ("the a of and to is in it you that he was for on are with as I his they be at one have "
              "this from hello world test example").split() * 5
    words += "café naïve résumé Zürich Straße São über déjà vu niño façade".split()
    words += "東京 日本 中文 한국어 Привет мир Ελλάδα 🙂 🎉".split()
    punct = [".", ",", "!", "?", ";", ":", "'s", "'re", "-", "(", ")", "\"", "..."]
    lines = []
    for _ in range(4000):
        parts = []
        for _ in range(rng.randint(3, 14)):
            w = rng.choice(words)
            if rng.random() < 0.15:
                w = w.capitalize()
            if rng.random() < 0.08:
                w = str(rng.randint(0, 99999))
            parts.append(w)
            if rng.random() < 0.12:
                parts.append(rng.choice(punct))
        lines.append(" ".join(parts))
    return lines


def charsmap_rules():
    """Our own small normalization table, in sentencepiece's TSV rule format."""
    rules = {}
    for lo, hi in [(0xA0, 0x24F), (0x2000, 0x206F), (0x2150, 0x218F), (0xFB00, 0xFB06),
                   (0xFF01, 0xFF5E), (0x3000, 0x3000)]:
        for cp in range(lo, hi + 1):
            c = chr(cp)
            n = unicodedata.normalize("NFKC", c)
            if n != c:
                rules[c] = n
    for c in "\t\n\r":
        rules[c] = " "
    for cp in list(range(1, 9)) + list(range(0x0E, 0x20)) + [0x7F, 0x200B]:
        rules[chr(cp)] = ""
    for base in "aeiouAEIOUnNcCyY":
        for mark in [0x300, 0x301, 0x302, 0x303, 0x308, 0x30A, 0x327]:
            s = base + chr(mark)
            n = unicodedata.normalize("NFC", s)
            if len(n) == 1:
                rules[s] = n
    hexes = lambda text: " ".join("%X" % ord(x) for x in text)
    return "".join(hexes(s) + "\t" + hexes(t) + "\n" for s, t in rules.items())


def train_sentencepiece(workdir, name, corpus_path, **options):
    """Trains a sentencepiece Unigram model; returns (pieces, precompiled charsmap).

    pieces is a list of (piece, score, type) with sentencepiece's types:
    1 normal, 2 unknown, 3 control, 4 user defined, 6 byte.
    """
    prefix = os.path.join(workdir, name)
    spm.set_random_generator_seed(SEED)
    spm.SentencePieceTrainer.train(input=corpus_path, model_prefix=prefix, model_type="unigram",
                                   minloglevel=2, num_threads=1, **options)
    with open(prefix + ".model", "rb") as f:
        model = f.read()
    pieces, charsmap = [], b""
    for field, value in protobuf_fields(model):
        if field == 1:  # ModelProto.pieces
            piece, score, kind = "", 0.0, 1
            for inner, item in protobuf_fields(value):
                if inner == 1:
                    piece = item.decode("utf-8")
                elif inner == 2:
                    score = struct.unpack("<f", item)[0]
                elif inner == 3:
                    kind = item
            pieces.append((piece, score, kind))
        elif field == 3:  # ModelProto.normalizer_spec
            for inner, item in protobuf_fields(value):
                if inner == 2:
                    charsmap = item
    return pieces, charsmap


def protobuf_fields(data):
    """Minimal protobuf wire-format reader: yields (field number, value)."""
    def varint(i):
        result, shift = 0, 0
        while True:
            byte = data[i]
            i += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result, i
    i = 0
    while i < len(data):
        key, i = varint(i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(i)
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        elif wire == 2:
            n, i = varint(i)
            value, i = data[i:i + n], i + n
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield field, value


def unigram_from_pieces(pieces, unk_id, byte_fallback):
    """What transformers' sentencepiece converter does with the pieces."""
    vocab = [(piece, score) for piece, score, _ in pieces]
    tok = Tokenizer(models.Unigram(vocab, unk_id=unk_id, byte_fallback=byte_fallback))
    tok.add_special_tokens([AddedToken(p, normalized=False) for p, _, kind in pieces if kind in (2, 3)])
    return tok


def make_unigram_t5(workdir, corpus_path):
    rules = os.path.join(workdir, "rules.tsv")
    with open(rules, "w", encoding="utf-8") as f:
        f.write(charsmap_rules())
    pieces, charsmap = train_sentencepiece(workdir, "t5", corpus_path, vocab_size=500,
                                           normalization_rule_tsv=rules, pad_id=0, eos_id=1,
                                           unk_id=2, bos_id=-1)
    tok = unigram_from_pieces(pieces, unk_id=2, byte_fallback=False)
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(charsmap),
        normalizers.Strip(left=False, right=True),
        normalizers.Replace(Regex(" {2,}"), "▁"),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"],
        special_tokens=[("</s>", tok.token_to_id("</s>"))])
    # T5's sentinels: extra vocabulary entries after the trained pieces.
    tok.add_special_tokens([AddedToken("<extra_id_%d>" % i, normalized=False) for i in (2, 1, 0)])
    return tok


def legacy_from(t5_tok):
    """The T5 vocabulary with the older normalizer / pre-tokenizer layout and legacy keys."""
    spec = json.loads(t5_tok.to_str())
    spec["normalizer"] = {"type": "NFKC"}
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True},
    ]}
    spec["decoder"] = {"type": "Metaspace", "replacement": "▁", "add_prefix_space": True}
    text = json.dumps(spec, ensure_ascii=False)
    # Saved as written (the library would re-save it with today's keys).
    return Tokenizer.from_str(text), text


def make_unigram_bytes(workdir, lines):
    corpus_path = os.path.join(workdir, "lower.txt")
    with open(corpus_path, "w", encoding="utf-8") as f:
        f.write("\n".join(unicodedata.normalize("NFKC", line).lower() for line in lines))
    pieces, _ = train_sentencepiece(workdir, "bytes", corpus_path, vocab_size=600,
                                    normalization_rule_name="identity", byte_fallback=True,
                                    unk_id=0, bos_id=1, eos_id=2, pad_id=-1)
    tok = unigram_from_pieces(pieces, unk_id=0, byte_fallback=True)
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B </s>",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.add_tokens([AddedToken("<sep>", normalized=True)])
    return tok


def make_bart_bpe(lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)
    tok.train_from_iterator(lines, trainer=trainer)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")),
                                                      ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=False)
    spec = json.loads(tok.to_str())
    for added in spec["added_tokens"]:
        if added["content"] == "<mask>":
            added["lstrip"] = True
    return Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))


CASES = [
    "", " ", "   ", "\n", "x", "?!", "...",
    "hello world", "Hello World", " leading space", "trailing space ", "  two leading and two trailing  ",
    "multiple   spaces  between    words", "\ttab\tseparated\tvalues", "tab\t\tdouble", "new\nline",
    "\n\nleading newlines", "mixed \t \n whitespace", "CRLF\r\nline", "trailing newline\n",
    "Digits 12345 and 3.14159", "Year 2024, the 1st of May", "0000000000 9999999",
    "Punctuation!?... (yes) [no] {maybe}", "quotes \"double\" 'single'",
    "contractions: it's, we're, they've, I'm, you'll, he'd, can't", "'s 't 're at the start",
    "UPPER lower MiXeD", "café naïve résumé", "cafe\u0301 with a combining acute", "A\u030a and e\u0301\u0302",
    "Zürich Straße São Paulo", "東京は日本の首都です", "中文字符测试", "한국어 텍스트",
    "emoji 🙂🎉👍🏽", "family 👨\u200d👩\u200d👧 flags 🇫🇷🇯🇵", "ﬁne ligature ﬂow", "fullwidth ＡＢＣ１２３",
    "½ ¼ ¾ fractions", "Ⅻ roman numeral", "math ∑ ∫ √ ∞", "arrows → ← ↑", "currency $5 €10 £3 ¥100",
    "email test@example.com", "url https://example.com/path?q=1&r=2", "snake_case and camelCase",
    "hyphen-ated words — em dash – en dash", "ellipsis… and “smart quotes”", "Ελληνικά γράμματα",
    "Кириллица текст", "עברית", "العربية", "हिन्दी", "ไทย", "zero\u200bwidth space",
    "non\u00a0breaking space", "soft\u00adhyphen", "control \u0007 bell", "ideographic\u3000space",
    "<s> literal special </s>", "<mask> token", "a<mask>b", "before <mask> after", "<pad><unk>",
    "<extra_id_0> sentinel <extra_id_2>", "<sep> and <SEP> and x<sep>y",
    "repeated aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "the quick brown fox jumps over the lazy dog, again and again, 42 times!",
    "kari tone sumo lape digu bazeho fich shth inged eran rein onat",
]


def record(tok):
    cases = []
    for text in CASES:
        enc = tok.encode(text)
        ids = enc.ids
        plain = tok.encode(text, add_special_tokens=False).ids
        half = ids[: (len(ids) + 1) // 2]
        cases.append({
            "text": text,
            "ids": ids,
            "ids_without_special_tokens": plain,
            "decoded": tok.decode(ids, skip_special_tokens=True),
            "decoded_with_special_tokens": tok.decode(ids, skip_special_tokens=False),
            "half_ids_decoded": tok.decode(half, skip_special_tokens=True),
        })
    tok.enable_truncation(max_length=TRUNCATE_TO)
    for case in cases:
        case["ids_truncated"] = tok.encode(case["text"]).ids
    tok.no_truncation()
    return cases


def record_random_ids(tok, rng, count=40):
    """Decodes of random id lists: cut multi-byte characters, stray byte
    tokens, specials in odd places and ids past the vocabulary."""
    size = tok.get_vocab_size()
    rows = []
    for _ in range(count):
        ids = [rng.randrange(0, size + 2) for _ in range(rng.randint(1, 10))]
        rows.append({"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True),
                     "decoded_with_special_tokens": tok.decode(ids, skip_special_tokens=False)})
    return rows


def compact_json(summary):
    """One case per line: small, and diffs stay readable."""
    dump = lambda value: json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    parts = []
    for name, entry in summary["tokenizers"].items():
        cases = ",\n".join("    " + dump(case) for case in entry["cases"])
        decodes = ",\n".join("    " + dump(row) for row in entry["random_decodes"])
        parts.append('  %s: {"vocab_size": %d, "cases": [\n%s\n  ],\n  "random_decodes": [\n%s\n  ]}'
                     % (dump(name), entry["vocab_size"], cases, decodes))
    return '{"truncate_to": %d, "tokenizers": {\n%s\n}}\n' % (summary["truncate_to"], ",\n".join(parts))


def main():
    rng = random.Random(SEED)
    lines = make_corpus(rng)
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        corpus_path = os.path.join(work, "corpus.txt")
        with open(corpus_path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        t5 = make_unigram_t5(work, corpus_path)
        unigram_bytes = make_unigram_bytes(work, lines)
    legacy, legacy_text = legacy_from(t5)
    saved_text = {"unigram_legacy": legacy_text}
    tokenizers = {
        "unigram_t5": t5,
        "unigram_legacy": legacy,
        "unigram_bytes": unigram_bytes,
        "bart_bpe": make_bart_bpe(lines),
    }
    summary = {"truncate_to": TRUNCATE_TO, "tokenizers": {}}
    for name, tok in tokenizers.items():
        with open(os.path.join(OUT, name + ".tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(saved_text.get(name) or tok.to_str())
        summary["tokenizers"][name] = {"vocab_size": tok.get_vocab_size(), "cases": record(tok),
                                       "random_decodes": record_random_ids(tok, rng)}
    with open(os.path.join(OUT, "tokenizer_cases.json"), "w", encoding="utf-8") as f:
        f.write(compact_json(summary))
    for name, tok in tokenizers.items():
        print(name, tok.get_vocab_size())


if __name__ == "__main__":
    main()
