#!/usr/bin/env python3
"""Reference values for the TextTasks metric tests.

Builds a seeded set of hypothesis/reference pairs that stress the reference
scorers' corner cases (empty hypotheses, Unicode, punctuation, HTML entities,
numbers, very short segments, repeated words, odd whitespace) and records:

- corpus BLEU and chrF from sacreBLEU (defaults) over several slices,
- per-pair and mean ROUGE-1/2/L F1 from rouge-score, with and without stemming,
- sacreBLEU's 13a tokenisation of every segment,
- NLTK Porter stems (the stemmer rouge-score uses) for a word list.

Run:  python3 Tests/Reference/make_metric_fixtures.py
Writes Tests/TextTasksTests/Fixtures/metric_fixtures.json
"""
import json
import os
import platform
import random
import sys
from importlib.metadata import version

import sacrebleu
from nltk.stem import porter
from rouge_score import rouge_scorer, tokenize
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

SEED = 20240611
rng = random.Random(SEED)

WORDS = """the a an of to in on at for with by from and or but not is are was were be been being
cat cats dog dogs run runs running ran walk walked walking jump jumps jumped happy happiness happily
relational conditional rational generalization generalizations hopefully hopeful hopefulness skies sky dying lying
agreed plastered motoring caresses ponies ties formalize formalization electricity electrical adjustment
adjustable communism controlling controlled cats sing bled troubled sized hopping falling filing hissing fizzed
enjoy enjoyment analogously feudalism decisiveness callousness formality sensitivity sensibility triplicate
formative goodness revival allowance inference airliner gyroscopic defensible irritant replacement dependent
adoption homologous activate angularity effective bowdlerize probate rate cease roll generously archaeology
fully tried flies innings news proceed exceed succeed tying studies studied cried agreement national nations
model models modeling modelled translation translations translate translated compression compress compressed
layer layers teacher teachers student students module modules modular assembly assembled measure measured
quick brown fox lazy over under between quickly slowly very much many more most""".split()

UNICODE = ["café", "naïve", "Zürich", "Straße", "日本語のテキスト", "北京欢迎你", "🙂", "👍🏽", "İstanbul",
           "\u212aelvin", "e\u0301cole", "Ελληνικά", "русский", "mañana", "ﬁne", "Ⅻ", "①②③", "٣٤٥", "ÆØÅ"]
PUNCT = [",", ".", "!", "?", ";", ":", "...", "(", ")", "\"", "'", "-", "--", "/", "&", "%", "$", "#", "@",
         "[", "]", "{", "}", "<", ">", "*", "+", "=", "_", "`", "~", "^", "|", "\\"]
NUMBERS = ["3.14", "1,000", "1,000,000", "5-4", "2021-03-05", "$12.50", "100%", "0.5", "42", "7", "1990s",
           "3rd", "10:30", "1/2", "-12", "+7", "4.5.6", "a.b", "x,y", "9-", "-9"]
SPECIAL = ["&amp;", "&lt;b&gt;", "&quot;hi&quot;", "AT&T", "<skipped>", "e.g.", "U.S.A.", "don't", "it's",
           "rock'n'roll", "co-operate", "well-known", "Hello,world", "end.", "(aside)", "\"quoted\""]
SPACES = [" ", " ", " ", "  ", "\t", "\u00a0", "\u3000", "\u2009", "\u200b", "\u1680", "\x1c", "\u0085"]


def word():
    r = rng.random()
    if r < 0.68:
        w = rng.choice(WORDS)
    elif r < 0.76:
        w = rng.choice(NUMBERS)
    elif r < 0.84:
        w = rng.choice(UNICODE)
    elif r < 0.92:
        w = rng.choice(SPECIAL)
    else:
        w = rng.choice(PUNCT)
    if rng.random() < 0.1:
        w = w.capitalize() if rng.random() < 0.7 else w.upper()
    return w


def sentence(n):
    out = ""
    for i in range(n):
        if i:
            out += " " if rng.random() < 0.85 else rng.choice(SPACES)
        out += word()
        if rng.random() < 0.08:
            out += rng.choice([",", ".", "!", "?", ";", ":"])
    return out


def perturb(ref):
    words = ref.split(" ")
    ops = rng.randint(0, 4)
    for _ in range(ops):
        kind = rng.random()
        if kind < 0.25 and len(words) > 1:
            del words[rng.randrange(len(words))]
        elif kind < 0.5:
            words.insert(rng.randrange(len(words) + 1), word())
        elif kind < 0.7 and len(words) > 1:
            i, j = rng.randrange(len(words)), rng.randrange(len(words))
            words[i], words[j] = words[j], words[i]
        elif kind < 0.85:
            words[rng.randrange(len(words))] = word()
        else:
            i = rng.randrange(len(words))
            words[i] = words[i].lower() if rng.random() < 0.5 else words[i].upper()
    return " ".join(words)


def make_pairs():
    pairs = []
    # Hand-picked corner cases first.
    fixed = [
        ("", "the cat sat on the mat"),
        ("", ""),
        ("the cat sat on the mat", ""),
        ("   ", "a b c d"),
        ("a", "a"),
        ("a", "b"),
        (".", "."),
        ("Hello", "hello"),
        ("the the the the the the the", "the cat is on the mat"),
        ("la la la la", "la la la la la la la la"),
        ("It costs $12.50, i.e. 1,000 cents.", "It costs $ 12.50 , i.e. 1,000 cents ."),
        ("AT&amp;T &lt;rocks&gt; &quot;yes&quot;", "AT&T <rocks> \"yes\""),
        ("text <skipped> more", "text more"),
        ("hyphen-\nated line\nbreak", "hyphenated line break"),
        ("café naïve Zürich", "cafe naive Zurich"),
        ("日本語のテキスト です", "日本語のテキスト"),
        ("İstanbul \u212aelvin", "istanbul kelvin"),
        ("e\u0301cole", "\u00e9cole"),
        ("1990s 3rd 10:30 -12 +7 9- 4.5.6", "1990s 3rd 10:30 -12 +7 9- 4.5.6"),
        ("a.b x,y 1.5,2 .5 ,7 a, b. c", "a.b x,y 1.5,2 .5 ,7 a , b . c"),
        ("running runs ran", "run running runs"),
        ("generalizations of relational models", "generalization of a relational model"),
        ("tab\tseparated\u00a0nbsp\u3000ideographic", "tab separated nbsp ideographic"),
        ("🙂👍🏽 emoji", "emoji 🙂"),
        ("ﬁne Ⅻ ①②③", "fine XII 123"),
        ("x", "x y z w v u"),
        ("one two three four", "one two three four"),
        ("one two three", "one two three"),
        ("trailing space   ", "trailing space"),
        ("  leading", "leading"),
    ]
    pairs += fixed
    while len(pairs) < 240:
        kind = rng.random()
        ref = sentence(rng.randint(1, 18))
        if kind < 0.06:
            hyp = ""
        elif kind < 0.12:
            hyp = sentence(rng.randint(1, 3))
        elif kind < 0.2:
            hyp = sentence(rng.randint(1, 18))
        elif kind < 0.28:
            hyp = ref
        else:
            hyp = perturb(ref)
        pairs.append((hyp, ref))
    return pairs


def corpus_entry(pairs, start, end):
    hyps = [h for h, _ in pairs[start:end]]
    refs = [r for _, r in pairs[start:end]]
    bleu = sacrebleu.corpus_bleu(hyps, [refs])
    chrf = sacrebleu.corpus_chrf(hyps, [refs])
    entry = {
        "start": start, "end": end,
        "bleu": bleu.score, "bleu_counts": list(bleu.counts), "bleu_totals": list(bleu.totals),
        "bleu_sys_len": bleu.sys_len, "bleu_ref_len": bleu.ref_len, "bleu_bp": bleu.bp,
        "chrf": chrf.score,
    }
    for stem, key in ((False, "rouge_mean"), (True, "rouge_stem_mean")):
        scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=stem)
        scores = [scorer.score(r, h) for h, r in zip(hyps, refs)]
        entry[key] = {k: sum(s[k].fmeasure for s in scores) / len(scores) for k in ("rouge1", "rouge2", "rougeL")}
    return entry


STEM_SUFFIXES = ["s", "es", "ies", "ied", "ed", "eed", "ing", "y", "ly", "alli", "ational", "tional", "enci",
                 "anci", "izer", "bli", "abli", "entli", "eli", "ousli", "ization", "ation", "ator", "alism",
                 "iveness", "fulness", "ousness", "aliti", "iviti", "biliti", "fulli", "logi", "icate", "ative",
                 "alize", "iciti", "ical", "ful", "ness", "al", "ance", "ence", "er", "ic", "able", "ible", "ant",
                 "ement", "ment", "ent", "sion", "tion", "ou", "ism", "ate", "iti", "ous", "ive", "ize", "e", "ll",
                 "at", "bl", "iz", "ying", "yed", "yy"]


def stem_words(pairs):
    words = set(WORDS)
    for h, r in pairs:
        words.update(tokenize.tokenize(h, None))
        words.update(tokenize.tokenize(r, None))
    letters = "bcdfghjklmnprstvwxyz"
    vowels = "aeiouy"
    for _ in range(400):
        stem = "".join(rng.choice(letters) if i % 2 == 0 else rng.choice(vowels) for i in range(rng.randint(1, 6)))
        if rng.random() < 0.3:
            stem += stem[-1]
        words.add(stem + rng.choice(STEM_SUFFIXES))
    words.update(["sky", "skies", "dying", "lying", "tying", "news", "innings", "inning", "outings", "canning",
                  "howe", "proceed", "exceed", "succeed", "yyyy", "ayyy", "byyy", "ies", "dies", "ied", "tied"])
    stemmer = porter.PorterStemmer()
    return {w: stemmer.stem(w) for w in sorted(words) if w}


def signature(metric, pairs):
    metric.corpus_score([h for h, _ in pairs], [[r for _, r in pairs]])
    return str(metric.get_signature())


def main():
    pairs = make_pairs()
    tok = Tokenizer13a()
    n = len(pairs)
    slices = [(0, n), (0, 50), (50, 130), (130, n), (0, 10), (4, 8), (30, 31), (1, 2)]
    scorers = {
        False: rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=False),
        True: rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True),
    }
    out_pairs = []
    for h, r in pairs:
        entry = {"hyp": h, "ref": r, "tok13a_hyp": tok(h.rstrip()), "tok13a_ref": tok(r.rstrip())}
        for stem, key in ((False, "rouge"), (True, "rouge_stem")):
            s = scorers[stem].score(r, h)
            entry[key] = {k: s[k].fmeasure for k in ("rouge1", "rouge2", "rougeL")}
        out_pairs.append(entry)
    fixture = {
        "generator": "Tests/Reference/make_metric_fixtures.py",
        "seed": SEED,
        "versions": {
            "python": platform.python_version(),
            "sacrebleu": sacrebleu.__version__,
            "rouge_score": version("rouge-score"),
            "nltk": version("nltk"),
        },
        "bleu_signature": signature(sacrebleu.BLEU(), pairs),
        "chrf_signature": signature(sacrebleu.CHRF(), pairs),
        "pairs": out_pairs,
        "corpus": [corpus_entry(pairs, a, b) for a, b in slices],
        "stems": stem_words(pairs),
    }
    path = os.path.join(os.path.dirname(__file__), "..", "TextTasksTests", "Fixtures", "metric_fixtures.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {len(out_pairs)} pairs, {len(fixture['stems'])} stems to {os.path.normpath(path)}", file=sys.stderr)
    for c in fixture["corpus"]:
        print(f"  [{c['start']}:{c['end']}] BLEU {c['bleu']:.4f} chrF {c['chrf']:.4f} "
              f"R1 {c['rouge_mean']['rouge1']:.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
