"""Plausible, unique server names under the reserved `.test` TLD (ASCII and a few IDN ones).

Every generated host has its own registrable domain (`<label>.test`); a family-typical subdomain
(`mastodon.`, `lemmy.`, `video.` ...) is put in front of some. IDN labels are stored as A-labels.
"""

from __future__ import annotations

import random

import idna

TLD = "test"

ADJECTIVES = (
    "maple amber quiet brave cosmic gentle rusty silver golden misty lunar solar velvet "
    "crimson hidden tiny mighty wild sleepy happy lazy clever cozy frosty sunny stormy "
    "northern southern eastern western urban rural coastal alpine polar tropical electric "
    "digital analog retro neon pastel paper glass iron copper wooden stone open free "
    "little big old new green blue red purple orange teal indigo scarlet azure ivory "
    "hollow bright dark shiny fuzzy humble noble rapid slow swift bold calm curious merry "
    "odd plucky quirky radiant rustic sunlit wandering whispering wobbly zesty"
).split()

NOUNS = (
    "harbor cafe river forest meadow garden village lighthouse valley canyon island lagoon "
    "orchard prairie tundra glacier volcano desert oasis bay cove creek delta dune fjord "
    "grove hill lake marsh mesa peak pond reef ridge shore spring summit thicket "
    "otter fox badger heron owl raven crow lynx moose bison panda koala lemur gecko toad "
    "newt squid octopus whale dolphin seal walrus puffin penguin sparrow finch robin wren "
    "pixel byte kernel socket packet circuit signal beacon lantern compass anchor kite "
    "teapot kettle bakery library studio workshop attic cellar porch tavern market plaza "
    "tower bridge tunnel station harbour quay pier wharf mill forge loom quill scroll "
    "comet nebula orbit planet galaxy meteor aurora eclipse horizon zenith tide wave breeze"
).split()

SUFFIXES = (
    "social club space zone town house hub land net online cafe party city place "
    "commons collective network community"
).split()

# Unicode labels that exercise IDNA (stored and served as A-labels).
IDN_LABELS = (
    "bücher",
    "café-social",
    "smörgåsbord",
    "zürich-fedi",
    "köln-social",
    "mañana",
    "éire-toots",
    "ørsted",
    "日本",
    "ελλάδα",
)

RESERVED = frozenset({"threads", "spamfarm", "hostile", "example", "localhost", "invalid"})


def to_ascii(name: str) -> str:
    """IDNA 2008 with UTS-46 mapping to the A-label, as the crawler normalises names."""
    return idna.encode(name, uts46=True).decode("ascii")


def to_unicode(name: str) -> str:
    """The U-label form of an A-label name (for publishing unicode variants)."""
    return idna.decode(name)


def _label(rng: random.Random) -> str:
    roll = rng.random()
    adj, noun, noun2 = rng.choice(ADJECTIVES), rng.choice(NOUNS), rng.choice(NOUNS)
    if roll < 0.30:
        return f"{adj}-{noun}"
    if roll < 0.45:
        return f"{adj}{noun}"
    if roll < 0.60:
        return f"{noun}-{noun2}"
    if roll < 0.70:
        return f"{noun}{noun2}"
    if roll < 0.82:
        return f"{rng.choice((adj, noun))}-{rng.choice(SUFFIXES)}"
    if roll < 0.95:
        return f"{adj}-{noun}-{noun2}"
    return f"{noun}{rng.randint(2, 99)}"


def unique_labels(rng: random.Random, count: int, idn: int = 0) -> list[str]:
    """`count` distinct registrable labels (A-labels); the first `idn` ones are IDN labels."""
    taken: set[str] = set(RESERVED)
    labels: list[str] = []
    for word in IDN_LABELS[: min(idn, count)]:
        label = to_ascii(word)
        taken.add(label)
        labels.append(label)
    while len(labels) < count:
        label = _label(rng)
        if label not in taken:
            taken.add(label)
            labels.append(label)
    return labels


def host_name(rng: random.Random, label: str, prefixes: tuple[str, ...]) -> str:
    """`<prefix>.<label>.test` or `<label>.test`."""
    prefix = rng.choice(prefixes) if prefixes else ""
    return f"{prefix}.{label}.{TLD}" if prefix else f"{label}.{TLD}"


def registrable(domain: str) -> str:
    """The registrable domain (`<label>.test`) of a sandbox host name."""
    parts = domain.split(".")
    return ".".join(parts[-2:])
