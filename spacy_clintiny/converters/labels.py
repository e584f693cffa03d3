"""The shared label scheme and each corpus's mapping onto it (documented in docs/corpora.md).

PHI: the seven i2b2-2014 categories in span group "phi", the fine subtype on ``span.kb_id_``.
Concepts: the i2b2-2010 types in span group "concepts", the corpus's own label on ``kb_id_``
and the assertion on ``span.id_``. Drug attributes (dose, route...) in span group "modifiers".

``LabelMap`` maps a corpus's native entity, relation and attribute names onto that scheme. It
round-trips through ``to_dict``/``from_dict`` and rejects unknown keys, listing the allowed ones.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import Errors

PHI_KEY = "phi"
CONCEPTS_KEY = "concepts"
MODIFIERS_KEY = "modifiers"
NLI_KEY = "nli_pair"
# doc.spans[group].attrs key: the labels of the group a corpus annotates, when not all of them
ANNOTATED_LABELS = "annotated_labels"

PHI_LABELS = ("NAME", "PROFESSION", "LOCATION", "AGE", "DATE", "CONTACT", "ID")
CONCEPT_LABELS = ("PROBLEM", "TEST", "TREATMENT")
ASSERTIONS = (
    "present",
    "absent",
    "possible",
    "conditional",
    "hypothetical",
    "associated_with_someone_else",
)
NLI_LABELS = ("entailment", "neutral", "contradiction")

# i2b2 2014 de-identification subtypes (the TYPE attribute) -> category (the tag name).
I2B2_2014_SUBTYPES: Dict[str, str] = {
    "PATIENT": "NAME",
    "DOCTOR": "NAME",
    "USERNAME": "NAME",
    "PROFESSION": "PROFESSION",
    "ROOM": "LOCATION",
    "DEPARTMENT": "LOCATION",
    "HOSPITAL": "LOCATION",
    "ORGANIZATION": "LOCATION",
    "STREET": "LOCATION",
    "CITY": "LOCATION",
    "STATE": "LOCATION",
    "COUNTRY": "LOCATION",
    "ZIP": "LOCATION",
    "LOCATION-OTHER": "LOCATION",
    "AGE": "AGE",
    "DATE": "DATE",
    "PHONE": "CONTACT",
    "FAX": "CONTACT",
    "EMAIL": "CONTACT",
    "URL": "CONTACT",
    "IPADDR": "CONTACT",
    "SSN": "ID",
    "MEDICALRECORD": "ID",
    "HEALTHPLAN": "ID",
    "ACCOUNT": "ID",
    "LICENSE": "ID",
    "VEHICLE": "ID",
    "DEVICE": "ID",
    "BIOID": "ID",
    "IDNUM": "ID",
}

# PhysioNet deid gold types -> (category, fine subtype).
PHYSIONET_PHI: Dict[str, Tuple[str, str]] = {
    "HCPName": ("NAME", "DOCTOR"),
    "PTName": ("NAME", "PATIENT"),
    "PTNameInitial": ("NAME", "PATIENT"),
    "RelativeProxyName": ("NAME", "RELATIVE"),
    "Date": ("DATE", "DATE"),
    "DateYear": ("DATE", "YEAR"),
    "Location": ("LOCATION", "LOCATION-OTHER"),
    "Phone": ("CONTACT", "PHONE"),
    "Age": ("AGE", "AGE"),
    "Other": ("ID", "OTHER"),
}

# i2b2 2012 EVENT modality/polarity -> assertion (NEG wins over modality).
I2B2_2012_MODALITY = {
    "FACTUAL": "present",
    "POSSIBLE": "possible",
    "CONDITIONAL": "conditional",
    "PROPOSED": "hypothetical",
}

# Common BRAT attribute names -> assertion ("Name" for binary, "Name=Value" for valued ones).
DEFAULT_ATTRIBUTES: Dict[str, str] = {
    "Negation": "absent",
    "Negated": "absent",
    "Uncertainty": "possible",
    "Uncertain": "possible",
    "Speculation": "possible",
    "Hedged": "possible",
    "Conditional": "conditional",
    "Hypothetical": "hypothetical",
    "Experiencer=Family": "associated_with_someone_else",
    "Experiencer=Other": "associated_with_someone_else",
    "Assertion=present": "present",
    "Assertion=absent": "absent",
    "Assertion=possible": "possible",
    "Assertion=conditional": "conditional",
    "Assertion=hypothetical": "hypothetical",
    "Assertion=associated_with_someone_else": "associated_with_someone_else",
}

Target = Tuple[str, str]  # (span group, label)


@dataclass
class LabelMap:
    """Maps native entity/relation/attribute names onto the shared scheme.

    entities (Dict[str, Tuple[str, str]]): native label -> (span group, label).
    relations (Dict[str, Tuple[str, bool]]): native relation -> (label, reverse). ``reverse``
        swaps the arguments, e.g. n2c2 "Strength-Drug" (Arg1 strength) becomes drug -> dose.
    attributes (Dict[str, str]): "Name" or "Name=Value" -> assertion.
    default_group (Optional[str]): Group for unmapped entity labels (label kept as is); None
        means unmapped labels are reported as skipped ("unmapped_label").
    keep_unmapped_relations (bool): Keep unmapped relation labels as they are.
    """

    entities: Dict[str, Target] = field(default_factory=dict)
    relations: Dict[str, Tuple[str, bool]] = field(default_factory=dict)
    attributes: Dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ATTRIBUTES))
    default_group: Optional[str] = "entities"
    keep_unmapped_relations: bool = True

    ALLOWED_KEYS = ("entities", "relations", "attributes", "default_group", "keep_unmapped_relations")

    def entity(self, native: str) -> Optional[Target]:
        """RETURNS (Optional[Tuple[str, str]]): (group, label), or None if unmapped and dropped."""
        if native in self.entities:
            return self.entities[native]
        if self.default_group is None:
            return None
        return (self.default_group, native)

    def labels_by_group(self) -> Dict[str, List[str]]:
        """Per span group, the labels this map's entities target: what a corpus converted with
        it annotates (NCBI-disease: concepts PROBLEM only). The default group, which keeps
        unmapped labels as they are, is left out: its labels are open.

        RETURNS (Dict[str, List[str]]): Group -> sorted labels.
        """
        by_group: Dict[str, set] = {}
        for group, label in self.entities.values():
            by_group.setdefault(group, set()).add(label)
        return {g: sorted(labels) for g, labels in by_group.items() if g != self.default_group}

    def relation(self, native: str) -> Optional[Tuple[str, bool]]:
        """RETURNS (Optional[Tuple[str, bool]]): (label, reverse), or None when dropped."""
        if native in self.relations:
            return self.relations[native]
        return (native, False) if self.keep_unmapped_relations else None

    def assertion(self, name: str, value: Optional[str] = None) -> Optional[str]:
        """RETURNS (Optional[str]): The assertion for a BRAT attribute, or None if unmapped."""
        if value is not None and f"{name}={value}" in self.attributes:
            return self.attributes[f"{name}={value}"]
        if value in (None, "", "True", "true") and name in self.attributes:
            return self.attributes[name]
        return None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "entities": {k: {"group": g, "label": lab} for k, (g, lab) in self.entities.items()},
            "relations": {k: {"label": lab, "reverse": rev} for k, (lab, rev) in self.relations.items()},
            "attributes": {k: {"assertion": v} for k, v in self.attributes.items()},
            "default_group": self.default_group,
            "keep_unmapped_relations": self.keep_unmapped_relations,
        }

    @classmethod
    def from_dict(cls, data: Dict[str, Any], *, source: str = "<dict>") -> "LabelMap":
        """Build from the JSON structure of ``to_dict``; unknown keys raise with the allowed ones."""
        _check_keys(data, cls.ALLOWED_KEYS, source, "")
        entities = {}
        for native, target in (data.get("entities") or {}).items():
            _check_keys(target, ("group", "label"), source, f"entities.{native}")
            entities[native] = (target.get("group", CONCEPTS_KEY), target.get("label", native))
        relations = {}
        for native, target in (data.get("relations") or {}).items():
            _check_keys(target, ("label", "reverse"), source, f"relations.{native}")
            relations[native] = (target.get("label", native), bool(target.get("reverse", False)))
        attributes = dict(DEFAULT_ATTRIBUTES)
        for native, target in (data.get("attributes") or {}).items():
            _check_keys(target, ("assertion",), source, f"attributes.{native}")
            value = target.get("assertion")
            if value not in ASSERTIONS:
                raise ValueError(
                    Errors.E402.format(
                        value=value, where=f"{source} attributes.{native}", options=", ".join(ASSERTIONS)
                    )
                )
            attributes[native] = value
        return cls(
            entities=entities,
            relations=relations,
            attributes=attributes,
            default_group=data.get("default_group", "entities"),
            keep_unmapped_relations=bool(data.get("keep_unmapped_relations", True)),
        )

    @classmethod
    def from_json(cls, path: Union[str, Path]) -> "LabelMap":
        try:
            with Path(path).open(encoding="utf8") as f:
                data = json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(Errors.E423.format(path=path, err=err)) from None
        return cls.from_dict(data, source=str(path))


def _check_keys(data: Any, allowed: Tuple[str, ...], source: str, where: str) -> None:
    if not isinstance(data, dict):
        raise ValueError(Errors.E403.format(where=f"{source} {where}".strip(), value=type(data).__name__))
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(
            Errors.E404.format(keys=unknown, where=f"{source} {where}".strip(), allowed=", ".join(allowed))
        )


def _concepts(**labels: str) -> Dict[str, Target]:
    return {native: (CONCEPTS_KEY, label) for native, label in labels.items()}


N2C2_ATTRS = ("Strength", "Dosage", "Frequency", "Route", "Duration", "Form")

PRESETS: Dict[str, LabelMap] = {
    # Keep every BRAT label as it is, in span group "entities".
    "identity": LabelMap(),
    # n2c2 2018 track 2 (medication extraction): drug attributes become modifiers, every
    # relation is turned drug -> attribute ("Strength-Drug" Arg1=Strength becomes DRUG_DOSE).
    "n2c2-2018": LabelMap(
        entities={
            **_concepts(Drug="TREATMENT", Reason="PROBLEM", ADE="PROBLEM"),
            "Strength": (MODIFIERS_KEY, "DOSE"),
            "Dosage": (MODIFIERS_KEY, "DOSE"),
            "Frequency": (MODIFIERS_KEY, "FREQUENCY"),
            "Route": (MODIFIERS_KEY, "ROUTE"),
            "Duration": (MODIFIERS_KEY, "DURATION"),
            "Form": (MODIFIERS_KEY, "FORM"),
        },
        relations={
            "Strength-Drug": ("DRUG_DOSE", True),
            "Dosage-Drug": ("DRUG_DOSE", True),
            "Frequency-Drug": ("DRUG_FREQUENCY", True),
            "Route-Drug": ("DRUG_ROUTE", True),
            "Duration-Drug": ("DRUG_DURATION", True),
            "Form-Drug": ("DRUG_FORM", True),
            "Reason-Drug": ("DRUG_REASON", True),
            "ADE-Drug": ("DRUG_AE", True),
        },
        default_group=None,
    ),
    # NCBI disease (standoff, PubTator and CoNLL): every disease mention type is a PROBLEM.
    "ncbi-disease": LabelMap(
        entities=_concepts(
            SpecificDisease="PROBLEM",
            DiseaseClass="PROBLEM",
            CompositeMention="PROBLEM",
            Modifier="PROBLEM",
            Disease="PROBLEM",
        ),
        default_group=None,
    ),
    # BC5CDR: diseases are PROBLEMs, chemicals are TREATMENTs (most are drugs; see docs).
    "bc5cdr": LabelMap(
        entities=_concepts(Chemical="TREATMENT", Disease="PROBLEM"),
        relations={"CID": ("CID", False)},
        default_group=None,
    ),
}
# The union, used by default for PubTator and CoNLL input.
PRESETS["biomedical"] = LabelMap(
    entities={**PRESETS["ncbi-disease"].entities, **PRESETS["bc5cdr"].entities},
    relations=dict(PRESETS["bc5cdr"].relations),
)


def get_label_map(name_or_path: Optional[Union[str, Path, LabelMap]], *, default: str) -> LabelMap:
    """Resolve a preset name, a JSON file path or a LabelMap.

    name_or_path: A preset name (see ``PRESETS``), a path to a JSON label map, a LabelMap or None.
    default (str): Preset used when ``name_or_path`` is None.
    RETURNS (LabelMap): The label map.
    """
    if isinstance(name_or_path, LabelMap):
        return name_or_path
    if name_or_path is None or name_or_path == "":
        name_or_path = default
    if str(name_or_path) in PRESETS:
        return PRESETS[str(name_or_path)]
    path = Path(name_or_path)
    if path.suffix == ".json" and path.exists():
        return LabelMap.from_json(path)
    raise ValueError(Errors.E405.format(value=str(name_or_path), presets=", ".join(sorted(PRESETS))))
