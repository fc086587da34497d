"""Vocabulary of the built-in interpreter: phrase -> (tag, value).

Phrases are lowercase token sequences after normalization (hyphens and
apostrophes removed: "crow's feet" -> "crows feet", "t-zone" -> "t zone").
The longest phrase wins. Tags:

``V``       verb family: remove / reduce / keep / smooth / brighten / touch / light
``NEG``     negation ("not", "no", "without")
``T``       imperfection types ``(types, plural, adjective)``
``ALL``     "everything" (every type)
``R``       region key (see ``REGION_KEYS`` in builtin)
``SIDE``    "left" / "right";  ``SIDEWORD`` "side";  ``UNDER`` "under";  ``EYE`` eye(s)
``VIEW``    the photo's left/right rather than the subject's ("in the photo")
``INT``     absolute intensity in [0, 1];  ``REL`` +1 / -1 ("more" / "less")
``TOO``     relative step ("too much" -0.25, "not enough" +0.25)
``SEL``     selector order;  ``NEAR`` "near/next to";  ``ONE`` "one(s)";  ``NUM`` a count
``NUMBER``  "number" (introduces an id);  ``EXCEPT``, ``ONLY``
``EP``      edit part;  ``SZ`` edit direction ``(sign, kind)``;  ``COLOR``;  ``FINISH``
``RESTORE`` restoration cue;  ``FAITH`` fidelity;  ``PHOTO``;  ``FACE``;  ``ORD``
``CMD``     session command;  ``IT`` anaphora;  ``MACRO`` "flawless"...;  ``SEP``
``FILL``    words that carry no meaning here
"""

from __future__ import annotations

from typing import Any

ACNE = ("acne", "red_spot")
BLEMISH = ("acne", "red_spot", "dark_spot")
RED = ("red_spot",)
#: Redness as a whole: red spots and a breakout's reddened skin between them.
REDNESS = ("red_spot", "redness")
DARK = ("dark_spot",)
MOLE = ("mole",)
FRECKLE = ("freckle",)
WRINKLE = ("wrinkle",)
UNDER_EYE = ("under_eye",)
SHINE = ("shine",)

LEX: dict[str, tuple[str, Any]] = {}


def _add(tag: str, value: Any, *phrases: str) -> None:
    for p in phrases:
        LEX[p] = (tag, value)


# -- verbs -----------------------------------------------------------------------------
_add("V", "remove", "remove", "removes", "removing", "removed", "get rid of", "rid of", "rid",
     "erase", "delete", "clear", "clear up", "clear out", "clean", "clean up", "cleanup",
     "eliminate", "hide", "conceal", "cover", "cover up", "fix", "zap", "take out",
     "take away", "take off", "lose", "ditch", "kill", "nuke", "banish", "heal", "retouch",
     "touch up", "treat", "take care of", "deal with", "gone", "vanish", "disappear",
     "go away", "wipe", "wipe out", "scrub", "edit out", "photoshop out", "airbrush out",
     "purge", "correct", "repair", "get out")
_add("V", "reduce", "reduce", "fade", "tone down", "diminish", "minimize", "minimise",
     "lessen", "dim", "downplay", "calm", "calm down", "tame", "mute", "subdue", "decrease",
     "weaken", "turn down", "soften up")
_add("V", "keep", "keep", "leave", "preserve", "retain", "spare", "protect", "save",
     "alone", "as is", "as it is", "untouched", "intact", "i like", "i love", "i want to keep",
     "leave alone", "stay")
_add("V", "smooth", "smooth", "smoothen", "smooth out", "soften", "even out", "blur",
     "airbrush", "refine", "smoother", "softer", "smoothing", "smoothed", "softened",
     "softening", "even", "evenly")
_add("V", "brighten", "brighten", "lighten", "illuminate", "brighter", "lighter",
     "brightening", "lightening", "glow", "glowing", "radiant", "luminous", "light up",
     "brightened", "lightened")
_add("V", "touch", "touch", "change", "edit", "alter", "modify", "mess with", "retouch",
     "process")
LEX["retouch"] = ("V", "remove")
_add("V", "light", "make", "makes", "get", "dye", "turn", "do", "color", "colour", "want",
     "need")
# Light verbs that *add* something: fine for edits ("add red lipstick"), never for
# imperfections ("add freckles" is out of scope, not a removal).
_add("V", "add", "add", "give", "put", "put on", "apply", "wear", "paint", "give me",
     "put some", "draw", "create", "grow")
_add("NEG", "not", "not", "never", "do not", "does not", "dont", "nothing on", "no need to",
     "please do not", "stop")
_add("NEG", "no", "no", "no more", "zero", "none of the")
_add("NEG", "without", "without", "w o")

# -- imperfection types ------------------------------------------------------------------
_add("T", (ACNE, True, False), "acne", "pimples", "zits", "breakouts", "whiteheads",
     "blackheads", "acne spots", "spots of acne", "acnes", "acne breakouts", "bumps")
_add("T", (ACNE, False, False), "pimple", "zit", "breakout", "whitehead", "blackhead",
     "acne spot", "bump")
_add("T", (BLEMISH, True, False), "blemishes", "spots", "imperfections", "flaws", "marks",
     "skin problems", "blotches", "blemish marks")
_add("T", (BLEMISH, False, False), "blemish", "spot", "imperfection", "flaw", "mark",
     "blotch")
_add("T", (RED, True, False), "red spots", "red marks", "red bumps", "reddish spots")
_add("T", (RED, False, False), "red spot", "red mark", "red patch", "red bump")
_add("T", (REDNESS, True, False), "redness", "red patches", "red blotches", "irritation",
     "rosacea")
_add("T", (REDNESS, True, True), "red", "reddish", "blotchy red")
_add("T", (DARK, True, False), "dark spots", "dark marks", "acne scars", "scars", "age spots",
     "sun spots", "sunspots", "brown spots", "pigmentation", "hyperpigmentation",
     "liver spots", "acne marks", "post acne marks", "discoloration", "discolouration",
     "dark patches", "spots of pigmentation")
_add("T", (DARK, False, False), "dark spot", "dark mark", "acne scar", "scar", "age spot",
     "sun spot", "sunspot", "brown spot", "liver spot", "dark patch")
_add("T", (MOLE, True, False), "moles", "beauty marks", "beauty spots", "birthmarks")
_add("T", (MOLE, False, False), "mole", "beauty mark", "beauty spot", "birthmark",
     "beauty marks", "mole")
_add("T", (FRECKLE, True, False), "freckles", "freckling", "sun kisses", "freckle")
_add("T", (WRINKLE, True, False), "wrinkles", "lines", "fine lines", "crows feet",
     "laugh lines", "smile lines", "forehead lines", "creases", "crinkles",
     "expression lines", "frown lines", "worry lines", "wrinkle", "line", "crease",
     "nasolabial folds", "folds")
_add("T", (WRINKLE, True, True), "wrinkly", "wrinkled", "lined", "creased")
_add("T", (UNDER_EYE, True, False), "dark circles", "eye bags", "bags", "panda eyes",
     "raccoon eyes", "racoon eyes", "puffy eyes", "under eye circles", "undereye circles",
     "circles", "eyebags", "shadows under my eyes", "shadows under the eyes",
     "dark circle", "eye bag", "bag", "puffiness", "dark under eyes",
     "under eye darkness", "undereye darkness", "tired eyes", "circle", "eye circles",
     "dark circles under my eyes", "dark circles under the eyes")
_add("T", (UNDER_EYE, True, True), "tired", "puffy", "tired looking", "exhausted")
_add("T", (SHINE, True, False), "shine", "glare", "sheen", "oiliness", "greasiness",
     "hot spots", "hotspots", "oil", "sweat", "greasy look", "oily look", "shiny look",
     "oily skin", "shiny skin", "shiny spots", "shininess")
_add("T", (SHINE, True, True), "shiny", "oily", "greasy", "sweaty")
_add("ALL", None, "everything", "anything", "all of it", "all of them", "every thing")

# -- regions / sides / anchors ---------------------------------------------------------------
_add("R", "forehead", "forehead", "foreheads", "brow area", "upper face")
_add("R", "cheek", "cheek", "cheeks", "cheekbones", "cheekbone")
_add("R", "nose", "nose", "nostrils", "nose area", "nose bridge")
_add("R", "chin", "chin", "jaw", "chin area")
_add("R", "neck", "neck", "throat", "neckline", "decollete")
_add("R", "undereye", "undereye", "undereyes", "under eye", "under eyes", "under eye area",
     "under eye areas", "undereye area", "below my eyes", "beneath my eyes",
     "below the eyes", "beneath the eyes", "under the eyes", "under my eyes")
_add("R", "tzone", "t zone", "tzone")
_add("R", "face", "face", "skin", "complexion", "whole face", "entire face", "everywhere",
     "all over", "all over my face", "whole skin", "the whole thing", "overall")
_add("SIDE", "left", "left")
_add("SIDE", "right", "right")
_add("SIDEWORD", None, "side", "half", "side of my face", "side of the face", "half of my face")
_add("UNDER", None, "under", "below", "beneath", "underneath")
_add("EYE", True, "eyes", "eye area")
_add("EYE", False, "eye")
_add("ANCHOR", "mouth", "mouth", "lip line", "corner of my mouth", "mouth corner")
_add("ANCHOR", "brows", "eyebrow", "brow")
_add("VIEW", None, "in the photo", "in the picture", "in the image", "of the photo",
     "of the picture", "of the image", "on the photo", "on the picture", "on the image",
     "as i look at it", "from my view", "viewers", "from the viewer", "in the pic",
     "of the pic", "on screen", "on the screen", "as seen")

# -- strength ---------------------------------------------------------------------------
_add("INT", 0.3, "a little", "a bit", "slightly", "a touch", "lightly", "gently", "subtly",
     "a tad", "a little bit", "just a little", "just a bit", "just a touch", "somewhat",
     "a smidge", "mildly", "softly", "bit", "little", "light", "subtle", "gentle", "a hint")
_add("INT", 0.5, "half", "halfway", "moderately", "medium", "partially", "partly")
_add("INT", 0.8, "a lot", "strongly", "heavily", "significantly", "much", "way",
     "aggressively", "a great deal", "lots", "considerably", "drastically", "hard", "well",
     "noticeably", "quite a bit", "substantially", "strong", "heavy")
_add("INT", 1.0, "completely", "fully", "totally", "entirely", "all the way", "max",
     "maximum", "perfectly", "full", "altogether", "for good")
_add("REL", 1, "more", "stronger", "further", "harder", "increase", "intensify", "boost",
     "extra", "again", "deeper", "go further", "push it")
_add("REL", -1, "less", "weaker", "fewer", "lower", "back off", "ease off", "dial back",
     "dial it back", "scale back", "lighter touch")
_add("TOO", -0.25, "too much", "too strong", "overdone", "too far", "too fake", "overkill",
     "too obvious", "too artificial", "too heavy", "too smooth", "looks fake", "too plastic",
     "over the top")
_add("TOO", 0.25, "not enough", "too weak", "too subtle", "too little", "barely visible",
     "barely changed", "hardly changed", "cannot see a difference")
_add("TOODEG", None, "too", "so", "very", "really", "super", "overly", "kinda", "pretty")

# -- selectors -----------------------------------------------------------------------------
_add("SEL", "largest", "biggest", "largest", "big", "large", "huge", "giant", "massive",
     "bigger", "larger", "the big one", "enormous")
_add("SEL", "smallest", "smallest", "small", "tiny", "tiniest", "little ones", "minor")
# Superlatives only: "these annoying pimples" describes, "the worst pimple" selects.
_add("SEL", "most_visible", "worst", "most visible", "most noticeable", "most obvious",
     "most prominent", "angriest", "reddest", "darkest", "nastiest", "ugliest",
     "most annoying", "worst looking", "most distracting", "clearest", "strongest",
     "worst ones")
_add("FILL", None, "annoying", "ugly", "nasty", "bad", "horrible", "terrible", "awful",
     "stupid", "visible", "obvious", "noticeable", "prominent", "distracting", "angry")
_add("NEAR", None, "near", "next to", "close to", "by", "beside", "around", "nearby",
     "closest to", "nearest", "nearest to", "by the side of", "adjacent to", "right next to")
_add("ONE", False, "one", "that one", "this one")
_add("ONE", True, "ones", "those ones", "these ones")
_add("NUMBER", None, "number", "num", "nr", "nr.")
for _i, _w in enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven",
                         "eight", "nine", "ten")):
    if _i >= 2:
        LEX[_w] = ("NUM", _i)
LEX["a couple of"] = ("NUM", 2)
LEX["a couple"] = ("NUM", 2)
LEX["couple of"] = ("NUM", 2)
LEX["a few"] = ("NUM", 3)
LEX["few"] = ("NUM", 3)
LEX["both"] = ("FILL", None)
_add("EXCEPT", None, "except", "except for", "apart from", "other than", "excluding",
     "save for", "aside from", "but not", "not including", "with the exception of",
     "besides", "exept", "unless")
_add("ONLY", None, "only", "just", "solely", "exclusively", "nothing but", "simply", "merely",
     "just the", "only the")
LEX["just the"] = ("ONLY", None)

# -- edits ------------------------------------------------------------------------------
_add("EP", "double_chin", "double chin", "double chins", "chin fat", "second chin",
     "turkey neck", "submental fat", "fat under my chin", "neck fat", "double chinned")
_add("EP", "jawline", "jawline", "jaw line", "jawlines")
_add("EP", "smile", "smile", "smiling", "grin", "smiles")
_add("EP", "lips", "lips", "lip")
_add("EP", "brows", "eyebrows", "brows")
_add("EP", "lipstick", "lipstick", "lip color", "lip colour", "lip gloss", "lipgloss",
     "lip stick")
_add("EP", "teeth", "teeth", "tooth", "smile teeth")
_add("EP", "hair", "hair", "hairs", "hair color", "hair colour")
_add("EP", "skintone", "skin tone", "skintone", "skin color", "skin colour", "tone")
_add("EP", "young", "younger", "youthful", "deage", "de age", "years off", "years younger",
     "young", "rejuvenate", "rejuvenated")
_add("EP", "old", "older", "age me", "aged")
#: Edit directions: phrase -> {kind: sign}. An edit part (``EP``) reads the kinds it
#: understands (eyes/nose: size; lips: size, full; brows: raise; teeth: white;
#: skin tone: tone; double chin / jawline: tight, size).
EDIT_DIR: dict[str, dict[str, int]] = {}


def _dir(kind: str, sign: int, *phrases: str) -> None:
    for p in phrases:
        EDIT_DIR.setdefault(p, {})[kind] = sign


_dir("size", 1, "bigger", "larger", "enlarge", "enlarged", "wider", "widen", "wide", "big",
     "large", "grow", "increase", "more", "broader")
_dir("size", -1, "smaller", "shrink", "narrower", "narrow", "slimmer", "slim", "thinner",
     "thin", "reduce", "reduced", "petite", "skinnier", "tinier", "less", "refine",
     "slim down", "smaller looking", "lower")
_dir("full", 1, "fuller", "plumper", "plump", "thicker", "full", "plumped", "poutier",
     "bigger", "more")
_dir("full", -1, "thinner", "thin", "less full", "smaller", "less")
_dir("raise", 1, "raise", "raised", "lift", "lifted", "higher", "arch", "arched", "up",
     "more arched", "more")
_dir("raise", -1, "lower", "lowered", "drop", "down", "less")
_dir("white", 1, "whiten", "whiter", "whitening", "white", "brighter", "brighten",
     "brightening", "lighter", "lighten", "cleaner", "pearly", "pearly white", "bleach",
     "more", "clearer", "sparkling", "sparkly")
_dir("tone", 1, "paler", "pale", "fairer", "fair", "porcelain", "lighter", "lighten")
_dir("tone", -1, "tanned", "tan", "darker", "bronzed", "bronze", "sun kissed", "sunkissed",
     "tanner", "darken", "deeper")
_dir("warmth", 1, "warmer", "warm", "warm up", "more golden")
_dir("warmth", -1, "cooler", "cool", "cool down", "less yellow")
_dir("length", 1, "longer", "lengthen", "elongate")
_dir("length", -1, "shorter", "shorten")
_dir("density", 1, "bushier", "bushy", "thicker", "denser", "fuller", "darker", "fill in",
     "more defined", "stronger")
_dir("density", -1, "sparser", "thinner", "lighter", "thin out", "less bushy")
_dir("tight", -1, "tighten", "tighter", "sharpen", "sharper", "define", "defined",
     "more defined", "chiseled", "chiselled", "snatched", "contour", "sculpt", "sculpted",
     "slimmer", "slim", "slim down", "firm up", "firmer", "smaller", "reduce", "less")
_dir("smile", 1, "bigger", "wider", "more", "broader", "add", "give", "make", "put",
     "increase", "stronger", "happier")
_dir("smile", -1, "smaller", "less", "reduce", "tone down", "weaker", "subtler", "softer")

#: Colour names (lipstick, hair colour). Multi-word names are phrases of their own.
COLORS: frozenset[str] = frozenset({
    "red", "pink", "nude", "coral", "plum", "berry", "burgundy", "wine", "brown", "black",
    "blonde", "blond", "gray", "grey", "silver", "auburn", "copper", "orange", "purple",
    "violet", "magenta", "peach", "rose", "mauve", "cherry", "crimson", "scarlet", "maroon",
    "ginger", "platinum", "golden", "dark red", "bright red", "dark brown", "light brown",
    "ash blonde", "platinum blonde", "strawberry blonde", "hot pink", "light pink",
    "deep red", "brunette", "chestnut", "blue", "green", "white",
})
_add("FINISH", "matte", "matte", "matt", "velvet")
_add("FINISH", "satin", "satin", "satiny", "semi matte")
# Shine-specific verbs: "matte down my t-zone", "mattify", "blot my forehead".
_add("VSHINE", "reduce", "matte down", "mattify", "matte out", "blot", "blot out",
     "de shine", "deshine", "degrease", "take the shine off", "powder")
_add("FINISH", "gloss", "glossy", "gloss", "shiny finish", "glossy finish", "wet look")

# -- restoration ---------------------------------------------------------------------------
_add("RESTORE", "verb", "restore", "restoration", "deblur", "unblur", "sharpen", "enhance",
     "enhancement", "denoise", "upscale", "upscaling", "remaster", "sharpening", "refocus",
     "repair the photo", "restore the photo")
_add("RESTORE", "cue", "old photo", "old picture", "old photograph", "old pic", "blurry",
     "blurred", "blur in", "noisy", "noise", "grainy", "grain", "pixelated", "pixelly",
     "low quality", "low res", "low resolution", "lowres", "jpeg artifacts",
     "compression artifacts", "artifacts", "out of focus", "unsharp", "fuzzy", "soft focus",
     "degraded", "damaged", "faded photo", "old", "vintage photo", "sharper", "hd",
     "high resolution", "higher resolution", "crisper", "crisp", "clearer photo")
_add("FAITH", 0.8, "faithful", "true to the original", "natural looking", "keep it real",
     "realistic", "keep it natural", "conservative", "authentic", "faithfully")
_add("FAITH", 0.2, "aggressive", "aggressively", "as much as possible", "maximum detail",
     "dramatic", "dramatically")
_add("PHOTO", None, "photo", "picture", "image", "pic", "photograph", "shot", "portrait",
     "selfie", "photos", "pictures")

# -- faces --------------------------------------------------------------------------------------
_add("FACE", None, "face number", "person", "persons", "guy", "girl", "woman", "man", "lady",
     "kid", "child", "baby", "people")
_add("ORD", 1, "first", "1st")
_add("ORD", 2, "second", "2nd")
_add("ORD", 3, "third", "3rd")
_add("ORD", 4, "fourth", "4th")
_add("ORD", 5, "fifth", "5th")
_add("FACEALL", None, "everyone", "everybody", "all faces", "every face", "all the faces",
     "each face", "all people", "both faces", "both people", "all of us")

# -- commands (only when a chunk holds nothing else) ---------------------------------------
_add("CMD", "undo", "undo", "undo that", "go back", "revert", "revert that", "take that back",
     "never mind", "nevermind", "back", "cancel that", "scratch that", "undo the last change",
     "revert the last change", "step back", "undo last", "cancel", "oops", "go back one",
     "ctrl z", "previous version", "put it back")
_add("CMD", "redo", "redo", "redo that", "ctrl y", "put it back again", "reapply")
_add("CMD", "reset", "start over", "reset", "start again", "revert everything",
     "undo everything", "undo all", "back to the original", "restore the original",
     "original", "from scratch", "start from scratch", "reset everything", "clear all",
     "go back to the original", "remove all changes", "undo all changes")
_add("CMD", "show", "show me what you found", "what did you find", "what do you see",
     "what did you see", "show me", "show", "list", "what is there", "what have you found",
     "show what you found", "show the spots", "what can you see", "show findings",
     "findings", "what did you detect", "what did you spot", "what have you got",
     "show me the spots", "list the spots", "list them", "what is on my face",
     "what do you find", "analyze", "analyse", "scan")
_add("CMD", "save", "save", "save it", "save this", "save the result", "export")
_add("CMD", "help", "help", "what can you do", "commands", "how does this work",
     "what can i say", "options", "examples", "how do i use this")
_add("CMD", "quit", "quit", "exit", "bye", "goodbye", "q", "that is all",
     "i am done", "close", "end")

# -- the rest ------------------------------------------------------------------------------------
_add("IT", None, "it", "them", "that", "those", "these", "this", "they", "ones there",
     "the same")
_add("MACRO", None, "flawless", "perfect", "clearer", "clear skin", "spotless", "cleaner",
     "natural retouch", "retouching", "retouched", "beauty retouch", "touched up",
     "good", "better", "nicer", "nice", "healthier", "fresh", "fresher", "beautiful",
     "pretty", "clean skin", "glamour", "polished", "professional", "pro retouch",
     "light retouch", "quick retouch", "basic retouch", "blemish free", "clear")
_add("SEP", "and", "and", "and then", "and also", "as well as", "plus", "also", "aswell as",
     "along with", "together with")
_add("SEP", "but", "but", "however", "though", "although", "yet", "while", "whereas",
     "but also")
_add("SEP", "then", "then", "after that", "afterwards", "next", "finally", "lastly",
     "first", "firstly", "second", "secondly", "instead")
_add("FILL", None, "the", "a", "an", "my", "me", "mine", "i", "you", "your", "please", "pls",
     "plz", "can", "could", "would", "will", "should", "shall", "may", "might", "is", "are",
     "am", "was", "were", "be", "been", "being", "to", "of", "on", "in", "at", "from", "for",
     "with", "into", "onto", "over", "across", "all", "every", "each", "some", "any", "bit of",
     "look", "looks", "looking", "like", "kind of", "sort of", "so that", "thanks",
     "thank you", "thx", "ty", "hi", "hello", "hey", "ok", "okay", "now", "also", "too",
     "there", "here", "its", "just", "area", "areas", "region", "zone", "part", "parts",
     "one of", "would like", "i would like", "i want", "i would", "want you to",
     "we", "us", "our", "let us", "lets", "go", "have", "has", "had", "got", "try",
     "possible", "if", "what", "which", "where", "how", "as", "up", "out",
     "off", "instead",
     "again please", "then please", "quite", "rather", "kindly", "maybe", "perhaps", "yes",
     "sure", "cool", "great", "awesome", "hmm", "um", "uh", "well then", "whole", "entire",
     "self", "myself", "his", "her", "their", "him", "she", "he", "it is", "that is",
     "there is", "there are", "do it", "so", "very", "really", "super", "tiny bit",
     "lil", "abit", "ur", "u", "im", "i am", "lot of", "lots of", "amount", "bunch of",
     "feel", "feels", "seem", "seems", "also please", "oh", "ah", "wow", "lol", "haha",
     "its ok", "day", "today", "tomorrow", "photo shoot", "something", "stuff", "things",
     "thing", "let", "allow", "by about", "about", "around about", "approximately",
     "amazing", "please do", "done", "by", "percent", "where it is", "they are",
     "currently", "already", "still", "even more", "even", "step", "level", "strength",
     "intensity", "effect", "result", "version", "bits")
# Words that matter for meaning but sit in FILL above get their own tag back:
LEX["by"] = ("NEAR", None)
LEX["even"] = ("V", "smooth")
LEX["even more"] = ("REL", 1)
LEX["done"] = ("CMD", "quit")
LEX["light"] = ("INT", 0.3)
LEX["first"] = ("SEP", "then")
LEX["second"] = ("SEP", "then")
LEX["clear"] = ("V", "remove")
LEX["retouch"] = ("V", "remove")
LEX["dark"] = ("DARKADJ", None)
LEX["darker"] = ("DARKADJ", None)
LEX["darkness"] = ("DARKADJ", None)
_add("TOO", -0.25, "tone it down", "tone that down", "tone them down", "dial it down",
     "turn it down", "pull it back", "less of it")
# Face references: "the second face", "person 2" (1-based in speech, 0-based in plans).
for _n, _o in enumerate(("first", "second", "third", "fourth", "fifth"), start=1):
    for _who in ("face", "person", "guy", "girl", "woman", "man", "kid", "one from the left"):
        LEX[f"{_o} {_who}"] = ("FACEREF", _n)
        LEX[f"the {_o} {_who}"] = ("FACEREF", _n)
# Words known only through the edit tables: tagged so that they are not "unknown".
for _p in EDIT_DIR:
    LEX.setdefault(_p, ("SZ", None))
for _p in COLORS:
    LEX.setdefault(_p, ("COLOR", None))

#: Subject pronouns: a chunk that starts with one is a statement, not a request,
#: so its unknown words are context ("I have a wedding on Saturday"), not errors.
STATEMENT_STARTS = frozenset({"i", "we", "he", "she", "they", "there", "this", "it", "that",
                              "my", "its", "im", "our"})

#: Normalization of colour spellings.
COLOR_CANON = {"blonde": "blond", "grey": "gray", "colour": "color", "brunette": "brown",
               "platinum blonde": "platinum blond", "ash blonde": "ash blond",
               "strawberry blonde": "strawberry blond"}
