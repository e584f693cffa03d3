"""Every name spacy_clintiny registers is declared as an entry point in setup.cfg (so a saved
pipeline loads with ``spacy.load`` in a fresh interpreter), and every declared entry point
resolves to the function registered under that name."""

import configparser
import importlib
import pkgutil
from pathlib import Path

import catalogue
import pytest
from spacy.util import registry

import spacy_clintiny
import spacy_clintiny.registry as our_registries

SETUP_CFG = Path(__file__).parent.parent / "setup.cfg"
PACKAGE = "spacy_clintiny"


def declared_entry_points():
    """RETURNS (Dict[str, Dict[str, str]]): group -> {name: "module:attr"} from setup.cfg."""
    parser = configparser.ConfigParser()
    parser.optionxform = str  # keep the case of names
    parser.read(SETUP_CFG, encoding="utf8")
    groups = {}
    for group, value in parser["options.entry_points"].items():
        entries = {}
        for line in value.strip().splitlines():
            name, _, target = line.partition("=")
            entries[name.strip()] = target.strip()
        groups[group] = entries
    return groups


def resolve(target):
    module_name, _, attr = target.partition(":")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def all_registries():
    """RETURNS (Dict[str, catalogue.Registry]): entry-point group -> registry, for spaCy's
    registries and the ones spacy_clintiny adds."""
    out = {}
    for name in registry.get_registry_names():
        reg = getattr(registry, name)
        if isinstance(reg, catalogue.Registry) and reg.entry_point_namespace:
            out[reg.entry_point_namespace] = reg
    # Language.factory registers into registry.factories (namespace "internal_factories");
    # spaCy reads the "spacy_factories" entry-point group into it
    out["spacy_factories"] = registry.factories
    out.pop(registry.factories.entry_point_namespace, None)
    for value in vars(our_registries).values():
        if isinstance(value, catalogue.Registry):
            out[value.entry_point_namespace] = value
    return out


def import_whole_package():
    """Import every module of the package so that every decorator has run."""
    for info in pkgutil.walk_packages(spacy_clintiny.__path__, prefix=f"{PACKAGE}."):
        importlib.import_module(info.name)


def registered_by_us():
    """RETURNS (Dict[str, Dict[str, object]]): group -> {name: function} for every name
    whose registered function lives in spacy_clintiny."""
    import_whole_package()
    found = {}
    for group, reg in all_registries().items():
        # registry._get_all reads only what was registered in this process (no entry points),
        # i.e. what the decorators in our modules did
        for name, func in catalogue._get_all(reg.namespace).items():
            if getattr(func, "__module__", "").startswith(PACKAGE):
                found.setdefault(group, {})[name[-1]] = func
    return found


def undeclared():
    """RETURNS (List[Tuple[str, str, str]]): (group, name, target) registered but not in setup.cfg."""
    declared = declared_entry_points()
    return [
        (group, name, f"{func.__module__}:{func.__name__}")
        for group, names in registered_by_us().items()
        for name, func in names.items()
        if name not in declared.get(group, {})
    ]


def test_every_registered_name_is_in_setup_cfg():
    assert registered_by_us().get("spacy_factories"), "no factories found: did the package import?"
    missing = undeclared()
    assert not missing, "add these lines to setup.cfg [options.entry_points]:\n" + "\n".join(
        f"{group} =\n    {name} = {target}" for group, name, target in missing
    )


def test_the_check_catches_an_undeclared_name():
    def build_fake_v1():
        return None

    build_fake_v1.__module__ = f"{PACKAGE}.architectures.fake"
    registry.architectures.register("spacy-clintiny.Fake.v1", func=build_fake_v1)
    try:
        assert (
            "spacy_architectures",
            "spacy-clintiny.Fake.v1",
            f"{PACKAGE}.architectures.fake:build_fake_v1",
        ) in undeclared()
    finally:
        catalogue.REGISTRY.pop((*registry.architectures.namespace, "spacy-clintiny.Fake.v1"), None)


@pytest.mark.parametrize("group", sorted(declared_entry_points()))
def test_every_entry_point_resolves_to_the_registered_function(group):
    registries = all_registries()
    for name, target in declared_entry_points()[group].items():
        obj = resolve(target)
        assert callable(obj), f"{group} {name} -> {target} is not callable"
        if group == "console_scripts":
            continue
        assert group in registries, f"setup.cfg group '{group}' is not an entry-point group of any registry"
        assert registries[group].get(name) is obj, f"{group} '{name}' is registered as another function than {target}"


def test_factories_resolve_through_spacy():
    from spacy.language import Language

    for name in declared_entry_points()["spacy_factories"]:
        assert Language.has_factory(name), name
