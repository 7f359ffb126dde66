"""Boilerplate cleaning rules as data: ``CleaningRule`` entries, ``DEFAULT_RULES``, ``RuleSet``.

A rule is a name, a kind, a regular expression and a scope. The expression must
match the WHOLE line (``re.fullmatch``, case-insensitive by default), so a line
that is only ``Abid Katib/Getty Images`` goes while a sentence that merely
mentions Getty Images, comments or a newsletter inside real prose stays.

Lines are matched in a typography-folded form (``match_form``): curly quotes
and apostrophes become ``'`` / ``"``, en/em dashes and minus become ``-``. Write
patterns with straight ASCII punctuation; they then match both typographies.

Scopes: ``line`` (any body line), ``head`` (only among the first ``window``
lines of the body), ``tail`` (only among the last ``window`` lines).

Rule names start with their kind (``photo_credit_agency_slash``), so a stored
``RemovedLine.rule`` tells both what fired and what kind of boilerplate it was.
Besides these regex rules, ``parsers.clean`` applies a few structural rules
(``STRUCTURAL_RULES`` below); they can be disabled per source like any other.
"""

from __future__ import annotations

import bisect
import re
import re._compiler as _sre_compiler
import re._constants as _C
import re._parser as _sre_parser
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

KINDS = frozenset(
    {
        "photo_credit",
        "caption",
        "gallery",
        "comment_footer",
        "promo",
        "newsletter",
        "social",
        "share",
        "related",
        "navigation",
        "advertisement",
        "copyright",
        "legal",
        "byline_meta",
        "date_stamp",
        "other",
    }
)
SCOPES = frozenset({"line", "head", "tail"})
DEFAULT_WINDOW = 8

# Structural rules applied by parsers.clean (not regexes); names are reserved.
STRUCTURAL_RULES: Mapping[str, str] = {
    "byline": "byline_meta",
    "date_stamp": "date_stamp",
    "duplicate_line": "other",
    "duplicate_text": "other",
    "edge_nonprose_head": "other",
    "edge_nonprose_tail": "other",
    "edge_minor_block": "other",
    "comment_thread": "comment_footer",
    "related_list": "related",
}

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u00a0": " ", "\u2026": "...",
    }
)


_TYPOGRAPHY_CHARS = frozenset(chr(cp) for cp in _TYPOGRAPHY)


def match_form(line: str) -> str:
    """The typography-folded form of a line that rule patterns are matched against."""
    if line.isascii():
        return line
    # set intersection + replace: cheaper than translate() on non-ASCII text
    for ch in _TYPOGRAPHY_CHARS.intersection(line):
        line = line.replace(ch, _TYPOGRAPHY[ord(ch)])
    return line


@dataclass(frozen=True, slots=True)
class CleaningRule:
    """One named boilerplate rule.

    Attributes:
        name: unique rule name, recorded in ``RemovedLine.rule``; by convention it
            starts with the kind.
        kind: what the rule removes, one of ``KINDS``.
        pattern: a regex that must match the whole (typography-folded) line.
        scope: ``line``, ``head`` or ``tail``.
        window: for ``head``/``tail``: how many lines from that edge are eligible.
        max_words: the rule only applies to lines of at most this many words.
        ignore_case: compile with ``re.IGNORECASE`` (default True).

    Raises:
        ValueError: (on construction) unknown kind or scope, or an invalid regex;
            the message names the rule.
    """

    name: str
    kind: str
    pattern: str
    scope: str = "line"
    window: int = DEFAULT_WINDOW
    max_words: int | None = None
    ignore_case: bool = True

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"cleaning rule {self.name!r}: name must be a non-empty string")
        if self.kind not in KINDS:
            raise ValueError(f"cleaning rule {self.name!r}: unknown kind {self.kind!r} (one of {sorted(KINDS)})")
        if self.scope not in SCOPES:
            raise ValueError(f"cleaning rule {self.name!r}: unknown scope {self.scope!r} (one of {sorted(SCOPES)})")
        try:
            re.compile(self.pattern)
        except re.error as exc:
            raise ValueError(f"cleaning rule {self.name!r}: invalid regex {self.pattern!r}: {exc}") from None

    @property
    def flags(self) -> int:
        return re.IGNORECASE if self.ignore_case else 0


# --------------------------------------------------------------------------- defaults

_AGENCY = (
    r"(?:getty(?: images)?(?: for [\w .'&-]{1,40})?|afp(?: via getty images)?|ap(?: photo| images)?|"
    r"the associated press|associated press|reuters|epa(?:-efe)?|efe|xinhua|anadolu(?: agency)?|"
    r"shutterstock|alamy|nurphoto|sopa images|zuma(?: press| wire)?|pa(?: images| wire| media)?|"
    r"rex(?: features)?|rex/shutterstock|imagn|usa today(?: sports| network)?|bloomberg|pool|file|"
    r"istock(?:photo)?|corbis|tass|sipa(?: usa)?|kyodo|yonhap|ians|pti|ani|wenn|wireimage|filmmagic|"
    r"dpa|picture alliance|abaca(?:press)?|belga|ansa|lusa|ap file|reuters file|"
    r"[\w .'&-]{1,40} via getty images)"
)
_SOCIAL = (
    r"print this(?: article| story| page)?|share (?:it|this)(?: article| story| page)?(?: with (?:your )?friends)?|facebook|twitter|x|email|e-mail|mail|whatsapp|linkedin|pinterest|reddit|print|messenger|telegram|"
    r"copy link|copy url|copy|link|sms|tumblr|flipboard|pocket|google\+?|tweet|share|shares|comment|comments|"
    r"save|instagram|youtube|tiktok|snapchat|vk|line|viber|more|digg|stumbleupon|evernote|gmail|"
    r"url ?copied!?|bookmark"
)
_SEP = r"[\s|•·,/:;*>-]*"

DEFAULT_RULES: tuple[CleaningRule, ...] = (
    # ---- photo credits and captions
    CleaningRule(  # Abid Katib/Getty Images, Sanjeev Verma/Hindustan Times/Getty Images, Alex Wong | Getty Images
        "photo_credit_agency_slash", "photo_credit",
        rf"[\w .,'&()-]{{1,60}}(?:\s*[/|]\s*[\w .,'&()-]{{1,60}}){{0,2}}\s*[/|]\s*{_AGENCY}(?:\s*[/|]\s*file)?\.?",
        max_words=14,
    ),
    CleaningRule(  # REUTERS/Kevin Lamarque, AFP/Getty, EPA/ANDY RAIN
        "photo_credit_agency_first", "photo_credit",
        rf"(?:\(?(?:reuters|afp|epa(?:-efe)?|ap|xinhua|efe|anadolu|getty images)\s*/\s*[\w .,'&-]{{1,60}}"
        rf"(?:\s*/\s*[\w .,'&-]{{1,40}})?\)?)\.?",
        max_words=10,
    ),
    CleaningRule(  # (AP Photo/Evan Vucci), (Reed Saxon / Associated Press), [Reuters]
        "photo_credit_parenthesized", "photo_credit",
        r"[(\[](?:[^()\[\]]{1,80}/[^()\[\]]{1,80}|(?:photo|image|file|picture)[^()\[\]]{0,80}|"
        r"[^()\[\]]{0,60}(?:photo|credit|getty images|reuters|associated press|afp)[^()\[\]]{0,40})[)\]]\.?",
        max_words=14,
    ),
    CleaningRule(  # Getty Images / AFP via Getty Images / Reuters (a credit line on its own)
        "photo_credit_agency_alone", "photo_credit",
        rf"(?:\(?(?:photo|image|picture|foto)s?\s*(?:by\s*)?)?{_AGENCY}(?:\s*(?:photo|file|images?))?\)?\.?",
        max_words=8,
    ),
    CleaningRule(  # Photo: ..., Image Credit: WeWork, Photograph: Tim Robberts/Getty Images, Credit: ...
        "photo_credit_label", "photo_credit",
        r"(?:(?:\w+\s+){0,2}(?:photo|photos|photograph|photographs|photography|image|images|picture|pictures|"
        r"illustration|graphic|video|foto|fotos|imagem|fotografia|immagine|bild|photo credit|image credit|"
        r"credit|credits|cr[ée]dito|source|fonte|fuente)|photo courtesy|courtesy)\s*(?:by\s*)?[:|©]\s*.{1,160}",
        max_words=20,
    ),
    CleaningRule(  # Photo by Jane Doe on Unsplash; Photo courtesy of the family
        "photo_credit_by", "photo_credit",
        r"(?:photo|photos|photograph|image|picture|illustration|video)s?\s+(?:by|courtesy of|courtesy|from|via)\s+.{1,100}",
        max_words=14,
    ),
    CleaningRule(  # BBC: "Image source, Getty Images", "Image copyright Reuters"
        "photo_credit_image_source", "photo_credit",
        r"(?:image|media|video) (?:source|copyright)\s*[,:]?\s*.{0,100}",
        max_words=14,
    ),
    CleaningRule(  # Marta Lindqvist/Coastline Wire, Jane Doe / The Daily Herald: a name, a slash, an outlet
        "photo_credit_name_slash_outlet", "photo_credit",
        r"(?:[A-Z][\w'.-]*\s+){1,3}[A-Z][\w'.-]*\s*/\s*(?:The\s+)?[A-Z][\w'.&-]*(?:\s+(?:[A-Z][\w'.&-]*|of|for|and|&)){0,5}\.?",
        max_words=11, ignore_case=False,
    ),
    CleaningRule(  # Courtesy of the Northgate Museum; Courtesy the family (a credit line on its own)
        "photo_credit_courtesy", "photo_credit", r"courtesy(?: of)?\s+[^.,;:!?]{1,60}\.?", max_words=9,
    ),
    CleaningRule("photo_credit_file_photo", "photo_credit", r"[(\[]?(?:a |an )?(?:file|stock) (?:photo|image|picture)[)\]]?\.?"),
    CleaningRule(  # Above: A WeWork coworking space..., Pictured: ..., Image caption ...
        "caption_label", "caption",
        r"(?:above|below|top|pictured|picture|main|inset|caption|image caption|photo caption|media caption|"
        r"top image|main image|header image|featured image|in this photo|legenda)\s*[:|-]\s*.{1,400}",
    ),
    CleaningRule("caption_image_caption", "caption", r"(?:image|media|photo) caption\s+.{1,400}"),
    CleaningRule(  # a caption that ends with its credit: "... in Hialeah, Fla. (AP Photo/Alan Diaz, File)",
        # "... November 19, 2019. © Reuters / David Mercado", "Plague can be easily vaccinated (Image: GETTY)"
        "caption_with_credit", "caption",
        r".{10,500}?(?:\((?:ap |afp |reuters |epa |getty )?(?:photo|photos|image|images|picture|pictures|foto|fotos)"
        r"\s*(?:/|:|by\b)\s*[^()]{1,80}\)|©\s*[\w.'&-]+(?: [\w.'&-]+){0,3}\s*/\s*[\w.'&-]+(?: [\w.'&-]+){0,3})\.?",
        max_words=90,
    ),
    CleaningRule(
        "caption_toggle", "caption",
        r"(?:(?:hide|show|toggle|close) caption|(?:enlarge|expand|zoom) (?:this )?(?:image|photo|picture)?|"
        r"(?:view|open|launch|see|back to|return to) (?:the )?(?:photo |image )?gallery|"
        r"(?:view|see) (?:all )?(?:\d+ )?(?:photos|images|pictures)|expand|enlarge|"
        r"this slideshow requires javascript\.?|play video|watch video|watch:? .{0,60}\(video\))\W*",
    ),
    CleaningRule(  # Image 1 of 23, Image 1 of / 23, 1 / 23, Photo 3/12
        "gallery_counter", "gallery",
        r"(?:(?:image|photo|picture|slide|foto|imagem)\s*)?\d{1,3}\s*(?:of|/|de|di|из)\s*/?\s*\d{1,3}",
    ),
    CleaningRule(  # "1of4Grass Valley's Dionicio Torres looks at ...": a gallery counter glued to its caption
        "gallery_counter_caption", "gallery", r"(?:image|photo|picture|slide)?\s*\d{1,3}of\d{1,3}\S.{0,400}",
    ),
    # ---- comment footers and policies
    CleaningRule(
        "comment_footer_having_issues", "comment_footer",
        r"please let us know if you're having (?:issues|problems|trouble) with comment(?:ing|s)\.?",
    ),
    CleaningRule(
        "comment_footer_join", "comment_footer",
        r"(?:join|start|continue|enter) (?:the )?(?:discussion|conversation|debate)\W*.{0,40}|have your say\W*|"
        r"tell us what you think\W*",
        max_words=10,
    ),
    CleaningRule(  # Comments (12), 604 COMMENTS, [ 167 comments ], Comments
        "comment_footer_count", "comment_footer",
        r"[\[(]?\s*(?:\d+\s*)?(?:comments?|coment[áa]rios?|commenti|kommentare?|commentaires?|"
        r"комментари[ийея]?)\s*(?:\(\d+\)|\d+)?\s*[\])]?\W*",
    ),
    CleaningRule(  # Leave a comment, Show comments, View Comments, Read All Comments, Top Rated Comments
        "comment_footer_action", "comment_footer",
        r"[\[(]?\s*(?:view|show|hide|read|see|load|post|add|leave|write|submit|open|close|top rated|"
        r"most recent|newest|oldest|sort)(?: all| the| your| a| more| \d+)*(?: reader)? "
        r"(?:comments?|replies|reply|responses?)(?: \(\d+\)| \d+)?\s*[\])]?\W*",
        max_words=10,
    ),
    CleaningRule(
        "comment_footer_other", "comment_footer",
        r"(?:comments? (?:are|is|have been) (?:closed|disabled|moderated|turned off)|"
        r"you must (?:be logged in|be signed in|log ?in|sign ?in|register) to (?:post|leave|write|add) a comment|"
        r"log ?in to (?:comment|reply)|devi essere (?:connesso|registrato) per (?:inviare|pubblicare|scrivere) un commento|"
        r"debes (?:iniciar sesi[óo]n|estar registrado) para (?:publicar|escribir|dejar) un comentario|"
        r"voc[êe] precisa (?:estar logado|fazer login|estar conectado) para (?:publicar|postar|deixar) um coment[áa]rio|"
        r"vous devez [êe]tre connect[ée] pour (?:publier|laisser|poster) un commentaire|"
        r"sie m[üu]ssen (?:angemeldet|eingeloggt) sein,? um (?:einen )?kommentar(?:e)? (?:zu )?(?:schreiben|abzugeben|verfassen)|"
        r"cancel reply|leave a reply(?: cancel reply)?|"
        r"save my name,? e-?mail,? and website in this browser for the next time i comment|"
        r"your e-?mail address will not be published\.?(?: required fields are marked ?\*?)?|"
        r"(?:deixe|deja|lascia|laisser?) (?:um|un|una|votre|seu|su|o seu)? ?(?:comentário|comentario|commento|commentaire).{0,40}|"
        r"be the first to comment|no comments yet|conversation powered by .{1,40}|comments powered by .{1,40}|"
        r"disqus|commenting (?:is|has been) (?:disabled|closed)|we welcome your comments?)\W*",
        max_words=16,
    ),
    CleaningRule(  # WordPress/forum comment headers: "Jamie Cassidy on November 15, 2018 at 10:12 am said:"
        "comment_footer_header", "comment_footer",
        r".{1,80}\b\d{1,2}:\d{2}\s*(?:[ap]\.?m\.?)?\s*(?:said|says|wrote|writes|replied)\s*:",
        max_words=16,
    ),
    CleaningRule(  # reader vote/like counters under comments: "Rating: 36 Votes", "12 likes", "3 replies"
        "comment_footer_votes", "comment_footer",
        r"(?:rating|score)?\s*:?\s*[+-]?\d+\s*(?:votes?|likes?|replies|dislikes?)\W*",
    ),
    CleaningRule(  # comment-policy sentences: they read like prose, so anchor on their openings
        "comment_footer_policy", "comment_footer",
        r"(?:when submitting (?:content|comments?)|as you comment|before (?:commenting|you comment|posting)|"
        r"our goal with (?:article )?comments|by (?:posting|commenting|submitting) (?:a |your )?comments?|"
        r"comments? (?:are|is|will be) (?:moderated|reviewed|subject to)|"
        r"(?:please )?(?:keep|be) (?:it|comments|your comments) (?:civil|respectful|clean)|"
        r"please (?:read|review|follow|abide by) our (?:community|commenting|comment)|"
        r"(?:aten[çc][ãa]o:? )?coment[áa]rios (?:com|que|ofensivos)).{0,600}",
    ),
    # ---- newsletters, subscriptions, promos
    CleaningRule(  # Sign up for our newsletter, Subscribe, Subscribe Sign In
        "newsletter_sign_up", "newsletter",
        r"(?:sign ?up|subscribe|register (?:now|here|today|for free))\b"
        r"(?:(?!\b(?:said|says|told|was|were|had|has|did)\b).){0,140}",
        max_words=18,
    ),
    CleaningRule(  # Get our daily Entertainment newsletter; Want the latest news in your inbox?
        "newsletter_get", "newsletter",
        r"(?:get|receive|join|want|enter|don't miss|never miss|stay (?:informed|up to date))\b.{0,120}"
        r"\b(?:newsletters?|inbox|e-?mail alerts?|e-?mail address|subscribers?|subscription)\b.{0,80}",
        max_words=25,
    ),
    CleaningRule(  # Pick Six Newsletter, See All Newsletters, Our newsletters
        "newsletter_label", "newsletter",
        r"(?:[\w&'+-]+\s+){0,5}(?:newsletters?|e-?mail alerts?|podcasts?)\W*",
        max_words=6,
    ),
    CleaningRule(
        "newsletter_inbox", "newsletter",
        r".{0,160}\b(?:delivered (?:straight |directly |right )?to your inbox|in your inbox|"
        r"unsubscribe at any time|you can unsubscribe|by signing up|by subscribing|privacy notice|"
        r"to complete your (?:newsletter )?(?:subscription|sign-?up|registration))\b.{0,160}",
        max_words=40,
    ),
    CleaningRule(  # "... daily newsletter. Sign up for the free daily newsletter." (the call to action ends the line)
        "newsletter_call_to_action", "newsletter",
        r".{0,300}[.!?]\s+(?:sign ?up|subscribe|register)\b.{0,100}\b(?:newsletters?|e-?mail alerts?|inbox)\b.{0,40}|"
        r".{0,300}[.!?]\s+(?:click|tap) (?:here )?to (?:subscribe|sign ?up)\W*",
        max_words=60,
    ),
    CleaningRule(  # Click here to ..., Tap here to ...
        "promo_click_here", "promo",
        r"(?:click|tap|go|press) here\b.{0,200}|"  # or a promo whose last sentence is the call to action:
        r".{0,200}[.!?]\s+(?:click|tap) here (?:for more information|to (?:support|subscribe)\b.{0,100})\W*|"
        r".{0,120}\bby (?:clicking|tapping) here\W*",
        max_words=40,
    ),
    CleaningRule(  # To Read the Full Story, Support independent journalism, Already a subscriber?
        "promo_paywall", "promo",
        r"(?:to (?:read|continue reading) (?:the|this) (?:full|whole|rest)|(?:already a|become a) (?:subscriber|member)|"
        r"support (?:independent|quality|our) journalism|this (?:article|story|content) is (?:for|only available to) subscribers|"
        r"subscribers? only|unlock (?:this|all) |(?:start|try) (?:your|a) free trial|"
        r"(?:download|get) (?:our|the) (?:free )?app\b|if you buy something through |"
        r"we (?:may )?(?:earn|receive) (?:a )?(?:small )?(?:commission|share) ).{0,200}",
        max_words=40,
    ),
    CleaningRule(  # If you enjoyed this article, we have a proposition for you: ...; we have a small favour to ask; Thanks for reading!
        "promo_reader_appeal", "promo",
        r"(?:if you (?:enjoyed|liked|value|appreciate) (?:this|our) (?:article|story|journalism|reporting|content)|"
        r"(?:as|since|because) you'?re here,? (?:we|i)\b|we have a (?:small )?favou?r to ask|"
        r"thanks?(?: you)?(?: so much)? for (?:reading|watching|listening|visiting))\b.{0,900}",
        max_words=150,
    ),
    CleaningRule(  # Microsoft may earn an Affiliate Commission if you purchase something through recommended links
        "promo_affiliate_disclosure", "promo",
        r".{0,80}\bmay (?:earn|receive|get) (?:an? )?(?:small )?(?:affiliate )?(?:commission|share of (?:sales|revenue))\b"
        r".{0,60}\b(?:if you|when you|through|from|via|on) (?:buy|purchase|click|shop|make|links?|products?|purchases?|sales)\b.{0,160}|"
        r"(?:this (?:post|article|story|page) )?(?:contains|may contain|includes) affiliate links\b.{0,200}",
        max_words=45,
    ),
    CleaningRule(  # Subscribe Sign In, Edit ProfileSign Out, Account Settings Log Out, Continue reading the main story
        "promo_account_navigation", "promo",
        r"(?:(?:log ?in|sign ?in|sign ?out|log ?out|my account|account settings|edit profile|register|subscribe|"
        r"continue reading(?: the main story| below)?|read (?:the )?full (?:story|article)|listen (?:live|to this article)"
        r")\s*[|/•·]?\s*)+\W*",
    ),
    CleaningRule(  # Follow us on Twitter; Follow The New York Times Opinion section on Facebook, ...
        "social_follow", "social",
        r"(?:follow|like|find|connect with|join) (?:us|@\w+|[\w .&'@-]{1,60}?) on (?:facebook|twitter|instagram|linkedin|"
        r"youtube|tiktok|x|social media|google news|flipboard|telegram|whatsapp|threads|bluesky)\b.{0,160}",
        max_words=30,
    ),
    CleaningRule(  # Follow us, Follow RT on (the network icons were images), Siga-nos
        "social_follow_label", "social",
        r"(?:follow us|follow me|siga-nos|s[íi]guenos|seguici|folgen sie uns|suivez-nous|"
        r"(?:follow|like|find) (?:us|@?[\w.&'-]+(?: [\w.&'-]+){0,3}) on)\s*[:!]?",
        max_words=8,
    ),
    CleaningRule(  # a bare handle or "Natasha Turak@NatashaTurak", "Catherine Shu @catherineshu / 2 days"
        "social_handle", "social", r"(?:[\w.' -]{0,40}\s*)?@\w{2,30}(?:\s*[/|•-]\s*[\w ]{0,20})?", max_words=6,
    ),
    CleaningRule(
        "social_email_address", "social", r"(?:e-?mail(?: the author| me)?:?\s*)?[\w.+-]+@[\w-]+(?:\.[\w-]+)+\.?",
    ),
    CleaningRule(  # Facebook Twitter Email; Share to LinkedInLinkedInShare to FacebookFacebook...
        "share_bar", "share", rf"(?:(?:share (?:on|to|via|with) )?(?:{_SOCIAL}){_SEP})+", max_words=24,
    ),
    CleaningRule(  # Share this article, Share this:, Show more sharing options, Sharing is caring!
        "share_this", "share",
        r"(?:share (?:this|on|via|to|with|your|close|article|story|page|post)\b.{0,60}|"
        r"(?:show |close |more |extra )*sharing(?: options| buttons| is caring)?\W*.{0,30}|"
        r"addthis sharing buttons|like this:?|like loading\.*|be the first to like this\.?|\d*\s*shares?|(?:e-?mail|print) this(?: article| story| page)?|"
        r"e-?mail to a friend|send to a friend|copy (?:link|url)(?: url)?(?:copied)?!?|get short url|link copied!?)\W*",
        max_words=10,
    ),
    CleaningRule(  # Read more: ..., READ MORE, Related: ..., See also: ...
        "related_read_more", "related",
        r"(?:read more|read also|also read|more reading|see also|related|related content|related reading|"
        r"recommended(?: reading)?|watch|listen|more|also|leia (?:mais|também)|veja (?:mais|também)|leggi anche|"
        r"читайте также|lire aussi|(?:previous|prev|next) (?:post|article|story))\s*[:>»›|]\s*.{0,200}",
        max_words=30,
    ),
    CleaningRule(  # section labels of related-link blocks and page furniture
        "related_label", "related",
        r"(?:related(?: articles?| stories| news| posts?| content| topics| tags| links| coverage| videos?| items)?|"
        r"more (?:from|on|in|about|news|stories|articles|world|like this|to explore|great [\w ]{1,20} stories)(?: [\w.'&-]{1,30}){0,3}|"
        r"you (?:may|might) (?:also )?(?:like|be interested in|enjoy)(?:\.\.\.)?|"
        r"most (?:popular|read|viewed|shared|emailed|discussed|commented|watched)(?: videos| stories| articles| news| now)?|"
        r"trending(?: now| news| stories| topics)?|top stories|latest(?: news| stories| videos| headlines)?|"
        r"recommended(?: for you| stories| articles| videos)?|what to read next|up next|editor'?s'? picks|"
        r"don'?t miss|must read|also on [\w.]{1,30}|(?:see|view|show) (?:all|more)(?: \w+){0,3}(?: \(\d+\))?|more stories|"
        r"more(?: [\w&'-]+){1,2} (?:news|stories|articles|videos|headlines)|next up(?: in [\w&' -]{1,30})?|"
        r"explore (?:further|more)|post navigation|recent (?:articles|posts|stories|news|comments)|"
        r"in (?:other|case you missed|this) (?:news|it|story)|elsewhere on [\w. ]{1,30}|from around the web|"
        r"artigos relacionados|notícias relacionadas|leia também|veja também|articoli correlati|"
        r"ti potrebbe interessare|tags?|topics?|filed under|categories|category|key points|"
        r"previous(?: article| post| story)?|next(?: article| post| story)?|prev(?:ious)? next|next prev(?:ious)?|"
        r"read more|"
        r"back to top|skip to (?:main )?content|open navigation menu|site index|site map|sitemap|"
        r"breaking news|fact check|digital originals|home)\s*[:.!]?\s*",
    ),
    CleaningRule(  # Also on rt.com <headline>; On HoustonChronicle.com: <headline>
        "related_also_on_site", "related",
        r"(?:also|more|elsewhere) on [\w-]+(?:\.[a-z]{2,6})+\b.{0,200}|on [\w-]+(?:\.[a-z]{2,6})+\s*:\s*.{1,200}",
        max_words=30,
    ),
    CleaningRule(  # Related Tags: ..., Topics: ..., Tags: ...
        "related_tags", "related",
        r"(?:related )?(?:tags?|topics|subjects|keywords|filed under|tagged(?: with| in)?|categories|category)\s*[:|]\s*.{0,200}",
        max_words=25,
    ),
    CleaningRule(
        "advertisement_label", "advertisement",
        r"(?:advertisement|advertising|advert|sponsored(?: content| links?| stories| post)?|ad|ads|"
        r"ads by \w+|promoted(?: content| stories| links?)?|paid (?:content|post|partner content)|"
        r"(?:story|article) continues (?:below|after)(?: (?:this )?advertisement| ad)?|"
        r"continue reading below|scroll (?:down )?to continue(?: with content| reading)?|"
        r"publicidade|pubblicità|publicidad|anúncio|реклама|advertise(?: with us| on [\w.]{1,30})?)\W*",
    ),
    CleaningRule(  # a line that is only an image address (a page's og:image or lazy-load source left in the text)
        "other_image_url", "other", r"(?:https?://|www\.)[^\s]+\.(?:jpe?g|png|gif|webp|svg|bmp|tiff?)(?:\?[^\s]*)?",
    ),
    # ---- copyright and legal
    CleaningRule(  # (c) 2024 Reuters, Copyright 2024 The Associated Press. All rights reserved. Copyright @ 2019 X
        "copyright_notice", "copyright",
        r"(?:©|\(c\)|\u2117).{0,200}|copyright\s*(?:©|\(c\)|@)?\s*(?:\d{4}|by\b|the associated press|reuters|afp).{0,200}",
        max_words=30,
    ),
    CleaningRule("copyright_all_rights", "copyright", r".{0,160}\ball rights reserved\b.{0,160}", max_words=30),
    CleaningRule(
        "copyright_may_not_be_published", "copyright",
        r".{0,120}this material may not be published, broadcast, rewritten,? or redistributed.{0,120}",
    ),
    CleaningRule(  # Registration on or use of this site constitutes acceptance of our User Agreement...
        "legal_terms", "legal",
        r"(?:(?:registration on|use of)(?: (?:or|and/or) (?:use of|registration on))? (?:any (?:part|portion) of )?"
        r"this (?:site|website)|by using this (?:site|website)|this site is protected by recaptcha).{0,300}|"
        # cookie banners and consent dialogs (the standard texts of the common consent plugins)
        r"(?:we(?: and our partners)? use cookies|this (?:site|website) uses cookies|"
        r"by (?:choosing|clicking|selecting|continuing)\b.{0,60}\byou (?:consent|agree) to (?:our|the) use of cookies|"
        r"necessary cookies are absolutely essential|any cookies that may not be particularly necessary).{0,1200}",
        max_words=220,
    ),
    CleaningRule(  # Quotes delayed at least 15 minutes. Real-time quotes provided by ...
        "legal_market_data", "legal",
        r"(?:stock |market )?(?:quotes|prices|data|market data) (?:are |is )?delayed (?:at least |by |up to )?\d+ min(?:ute)?s\b.{0,400}",
        max_words=80,
    ),
    CleaningRule(  # Opinions expressed by Forbes Contributors are their own. The views expressed here are the author's own.
        "legal_opinion_disclaimer", "legal",
        r"(?:the )?(?:opinions|views)(?: and opinions)? expressed (?:by|in|here|on)\b.{0,80}? are (?:their|his|her|the author'?s?|"
        r"those of the authors?|solely (?:their|those of)|not necessarily)\b.{0,120}",
        max_words=40,
    ),
    CleaningRule(  # Privacy Policy | Terms of Service; Privacy / DMCA contact / Affiliate and FTC Disclosure
        "legal_navigation", "legal",
        r"(?:(?:privacy(?: policy| notice| settings)?|terms(?: of (?:use|service|sale))?|terms (?:and|&) conditions|"
        r"cookie(?:s| policy| settings| preferences)?|contact(?: us)?|about(?: us)?|dmca(?: contact)?|careers|help|faq|"
        r"accessibility|rss|ad ?choices|do not sell my (?:personal )?info(?:rmation)?|"
        r"affiliate and ftc disclosure|mobile version|feedback|corrections|subscriptions?|archives?|"
        r"user agreement|site map|sitemap|privacy overview|privacy (?:&|and) cookies? policy|cookie consent|"
        r"(?:strictly )?necessary(?: cookies)?(?: always enabled)?|non-necessary|manage (?:cookies|consent|preferences)|"
        r"(?:accept|reject|allow)(?: all)?(?: cookies)?)\s*(?:[|/•·,]|\band\b)?\s*)+",
        max_words=20,
    ),
    # ---- wire-story furniture around the body
    CleaningRule(  # (Reporting by ...; Editing by ...), Additional reporting by ...
        "byline_meta_reporting", "byline_meta",
        r"[(\[]?(?:additional )?(?:reporting|writing|editing|compiled|produced|research|graphics?) by .{1,300}",
        max_words=50,
    ),
    CleaningRule(  # Associated Press writers Alan Fram and Zeke Miller contributed to this report.
        # (the line must end there: "... contributed to the report's conclusion" is prose)
        "byline_meta_contributed", "byline_meta",
        r"[(\[]?.{1,300}\bcontributed (?:to (?:this|the) (?:report|story|article)|(?:additional )?reporting"
        r"(?: (?:from|in) [\w ,.'-]{1,80})?)\W*",
        max_words=60,
    ),
    CleaningRule(  # Edited by: Louis Jacobson; Researched by: ...; Fact-checked by Jane Doe (no sentence inside)
        "byline_meta_credit_label", "byline_meta",
        r"(?:edited|researched|reported|written|produced|fact[- ]checked|translated|compiled|curated|illustrated|"
        r"photographed|filmed|designed)(?: and [a-z]+)? by\s*:?\s*(?:[^.!?]|\b\w\.)+",
        max_words=12,
    ),
    CleaningRule(  # Updated 1:39 am EST, Wednesday, November 20, 2019; Posted: 18 Nov 2019 8:11 pm
        "byline_meta_published", "byline_meta",
        r"(?:first |last )?(?:published|updated|posted|modified|created|publicado|atualizado|actualizado|"
        r"pubblicato|aggiornato|publié|mis à jour|опубликовано|обновлено)(?: on| at| in| em| el| il)?\s*[:|-]?\s*"
        r"(?=.*\d).{0,120}",
        max_words=18,
    ),
    CleaningRule(  # 2 min read, 13 hours ago, Tempo de leitura: 1 minuto
        "byline_meta_read_time", "byline_meta",
        r"(?:\d+\s*(?:min(?:ute)?s?|hours?|hrs?|days?|weeks?|months?|[hmdw])\s*(?:read|ago)|"
        r"(?:reading time|tempo de leitura|tempo di lettura)\s*:?\s*.{0,30}|(?:an?|one) (?:hour|minute|day) ago)\W*",
    ),
)


# --------------------------------------------------------------------------- prefilters
#
# Most lines are prose that no rule matches, and trying every rule's regex on every line was
# the largest cost of parsing. Each rule gets three cheap necessary conditions, derived from
# its parsed pattern (so they hold for rules loaded from TOML too); its regex only runs on
# lines that pass all three:
#
# * opening: the first (up to) ``_PREFIX`` characters of a whole-line match, lower-cased,
#   belong to a finite set (``related_label`` opens with ``rel``, ``mor``, ``you`` ...); a
#   line whose folded opening is not ASCII is always tried;
# * length: a match is at most ``max_len`` characters (``match_form`` never shortens a
#   line, so a longer line cannot match);
# * needles: any match contains one of a few ASCII runs of the pattern
#   (``.{0,160}\bin your inbox\b.{0,160}`` needs ``inbox``; a credit needs ``/``), looked up
#   in ``line.lower()``. Runs hold letters, digits and punctuation that typography folding
#   neither produces nor removes, so they appear in the line as in its folded form. Under
#   IGNORECASE every character matching an ASCII letter, digit or punctuation mark
#   lower-cases to it, except U+0130, U+0131 and U+017F (checked against every code point):
#   lines holding those skip this test.

_ASCII = "".join(map(chr, range(128)))
_FOLD_OUTPUTS = frozenset("'\"- .")  # characters match_form produces
_PREFIX = 4  # longest opening compared
_MAX_OPENINGS = 4096  # a rule with more possible openings is compared on fewer characters
_MIN_NEEDLE = 3  # shorter letter/digit needles are not worth a lookup
_MAX_NEEDLES = 12
_REPEATS = (_C.MAX_REPEAT, _C.MIN_REPEAT, _C.POSSESSIVE_REPEAT)


@dataclass(frozen=True, slots=True)
class _Prefilter:
    width: int  # characters of the opening compared (0: no opening test)
    openings: frozenset[str]  # possible lower-cased openings (shorter ones: whole matches)
    max_len: int | None  # None: unbounded
    needles: tuple[str, ...]  # () : no needle test


_NO_PREFILTER = _Prefilter(0, frozenset(), None, ())


class _Unmodelled(Exception):
    """A pattern construct the prefilter does not model (the rule then has no opening test)."""


def _leaf_chars(item: tuple, flags: int, memo: dict) -> frozenset[str]:
    """Lower-cased ASCII characters a one-character pattern item matches, asked of the regex
    engine itself (so IGNORECASE, categories and negation behave exactly as in matching)."""
    key = (repr(item), flags)
    hit = memo.get(key)
    if hit is None:
        # a fresh parser state: the leaf alone, without the pattern's capture groups
        leaf = _sre_compiler.compile(_sre_parser.SubPattern(_sre_parser.State(), [item]), flags)
        hit = memo[key] = frozenset(m.group().lower() for m in leaf.finditer(_ASCII))
    return hit


def _concat(heads: set[str], tails: set[str] | frozenset[str], width: int) -> set[str]:
    out = set()
    for h in heads:
        if len(h) >= width:
            out.add(h)
            continue
        for t in tails:
            out.add((h + t)[:width])
        if len(out) > _MAX_OPENINGS:
            raise _Unmodelled("too many openings")
    return out


def _openings(seq: Iterable, width: int, flags: int, memo: dict) -> set[str]:
    """Every match of ``seq`` cut to ``width`` characters, lower-cased, ASCII characters only
    (a match that opens with a non-ASCII character is never ruled out by this set)."""
    acc = {""}
    for op, av in seq:
        if all(len(h) >= width for h in acc):
            break
        if op in (_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN):
            item: set[str] | frozenset[str] = _leaf_chars((op, av), flags, memo)
        elif op in (_C.AT, _C.ASSERT, _C.ASSERT_NOT):
            continue  # zero-width: ignoring the condition only widens the set
        elif op is _C.BRANCH:
            item = set().union(*(_openings(b, width, flags, memo) for b in av[1]))
        elif op is _C.SUBPATTERN and not (av[1] or av[2]):
            item = _openings(av[3], width, flags, memo)
        elif op in _REPEATS:
            item = _repeat(_openings(av[2], width, flags, memo), av[0], av[1], width)
        elif op is _C.ATOMIC_GROUP:
            item = _openings(av, width, flags, memo)
        else:
            raise _Unmodelled(str(op))
        acc = _concat(acc, item, width)
    return acc


def _repeat(body: set[str], lo: int, hi: int, width: int) -> set[str]:
    """Openings of body{lo,hi}: the union of body**i for lo <= i <= hi."""
    out: set[str] = set()
    cur = {""}
    for i in range(lo + width + 2):
        if i >= lo:
            out |= cur
        if i == hi:
            return out
        nxt = _concat(cur, body, width)
        # concatenation is monotone and distributes over union: once a power adds
        # nothing new past lo, no later power does
        if i >= lo and nxt <= out:
            return out
        cur = nxt
    raise _Unmodelled("repeat does not settle")


def _strength(needle: str) -> int:
    # punctuation ("/", "@") is rare in prose: as selective as a 4-letter word
    return len(needle) + (0 if needle.isalnum() else 3)


def _better(a: tuple[str, ...] | None, b: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """The more selective of two needle sets (strongest weakest needle, then fewest)."""
    if a is None:
        return b
    if b is None:
        return a
    return a if (min(map(_strength, a)), -len(a)) >= (min(map(_strength, b)), -len(b)) else b


def _needles(seq: Iterable) -> tuple[str, ...] | None:
    """Lower-case ASCII runs, one of which every match of ``seq`` contains (None: unknown)."""
    best: tuple[str, ...] | None = None
    run: list[str] = []

    def close_run() -> None:
        nonlocal best
        if run:
            best = _better(best, ("".join(run).lower(),))
            run.clear()

    for op, av in seq:
        if op is _C.LITERAL and av < 128 and chr(av) not in _FOLD_OUTPUTS and chr(av).isprintable():
            run.append(chr(av))
            continue
        close_run()
        if op is _C.BRANCH:
            found: set[str] = set()
            for branch in av[1]:
                got = _needles(branch)
                if got is None:
                    break
                found.update(got)
            else:
                best = _better(best, tuple(sorted(found)))
        elif op is _C.SUBPATTERN and not (av[1] or av[2]):
            best = _better(best, _needles(av[3]))
        elif op in _REPEATS and av[0] >= 1:
            best = _better(best, _needles(av[2]))
        elif op is _C.ATOMIC_GROUP:
            best = _better(best, _needles(av))
    close_run()
    return best


def _refers_to_groups(seq: Iterable) -> bool:
    for op, av in seq:
        if op in (_C.GROUPREF, _C.GROUPREF_EXISTS):
            return True
        inner = (
            av[1] if op is _C.BRANCH
            else [av[3]] if op is _C.SUBPATTERN
            else [av[2]] if op in _REPEATS
            else [av] if op is _C.ATOMIC_GROUP
            else [av[1]] if op in (_C.ASSERT, _C.ASSERT_NOT)
            else []
        )
        if any(_refers_to_groups(s) for s in inner):
            return True
    return False


def _useful_needles(needles: tuple[str, ...] | None) -> tuple[str, ...]:
    if not needles or len(needles) > _MAX_NEEDLES:
        return ()
    if min(map(_strength, needles)) < _MIN_NEEDLE:
        return ()  # "ap", "x": found in most lines
    return needles


@lru_cache(maxsize=1024)
def _prefilter(pattern: str, flags: int) -> _Prefilter | None:
    """The rule's cheap necessary conditions; None if the pattern refers to its groups
    (it then only runs inside its group's joined alternation, as written)."""
    try:
        parsed = _sre_parser.parse(pattern, flags)
    except re.error:
        return None
    if _refers_to_groups(parsed):
        return None
    flags |= parsed.state.flags
    memo: dict = {}
    width, openings = 0, frozenset()
    for w in range(_PREFIX, 0, -1):
        try:
            width, openings = w, frozenset(_openings(parsed, w, flags, memo))
            break
        except _Unmodelled:
            continue
    else:
        width = 0
    lo, hi = parsed.getwidth()
    return _Prefilter(width, openings, hi if hi < _C.MAXREPEAT else None, _useful_needles(_needles(parsed)))


class _Plan:
    """How to match one effective rule list: the rules in match order with their prefilters,
    and the candidates per line opening (grown as lines come). Shared by every
    ``CompiledRules`` of the same rules in a process (see ``_plan``)."""

    def __init__(self, rules: tuple[CleaningRule, ...]):
        self.by_group: dict[str, CleaningRule] = {}
        # (pattern, rule or None for a joined group, max_words, scope, window, prefilter)
        self.entries: list[tuple[re.Pattern[str], CleaningRule | None, int | None, str, int, _Prefilter]] = []
        groups: dict[tuple[int, int | None, str, int], list[CleaningRule]] = {}
        for rule in rules:
            groups.setdefault((rule.flags, rule.max_words, rule.scope, rule.window), []).append(rule)
        for (flags, max_words, scope, window), members in groups.items():
            parts = []
            for rule in members:
                group = f"r{len(self.by_group)}"
                self.by_group[group] = rule
                parts.append(f"(?P<{group}>{rule.pattern})")
            try:
                joined = re.compile("|".join(parts), flags)
            except re.error:
                # Patterns with clashing named groups cannot be joined; keep them apart.
                for rule, part in zip(members, parts):
                    self._add(rule, re.compile(part, flags), max_words, scope, window)
                continue
            if any(_prefilter(rule.pattern, flags) is None for rule in members):
                # a pattern refers to groups: it only means what it says joined
                self.entries.append((joined, None, max_words, scope, window, _NO_PREFILTER))
                continue
            for rule in members:
                # alone, a member matches exactly when it is the joined pattern's first
                # alternative to match the whole line
                self._add(rule, re.compile(rule.pattern, flags), max_words, scope, window)
        n = len(self.entries)
        self.all_entries = (1 << n) - 1
        # entry i is bit i. Openings: for each compared width, opening -> entries it admits;
        # entries without an opening test are always admitted.
        self.unopened = 0
        by_width: dict[int, dict[str, int]] = {}
        for i, (_, _, _, _, _, pre) in enumerate(self.entries):
            if not pre.width:
                self.unopened |= 1 << i
                continue
            table = by_width.setdefault(pre.width, {})
            for opening in pre.openings:
                table[opening] = table.get(opening, 0) | 1 << i
        self.opening_tables = sorted(by_width.items())
        self.opening_masks: dict[str | None, int] = {None: self.all_entries}
        # word-count buckets: lines of one bucket pass the same max_words limits
        limits = sorted({r.max_words for r in rules if r.max_words is not None})
        self.word_cap = limits[-1] + 1 if limits else 0
        self.bucket_of = [bisect.bisect_left(limits, k) for k in range(self.word_cap)]
        self.bucket_masks = [
            sum(1 << i for i, e in enumerate(self.entries) if e[2] is None or (b < len(limits) and e[2] >= limits[b]))
            for b in range(len(limits) + 1)
        ]
        self.edges = sorted({(r.scope, r.window) for r in rules if r.scope != "line"})
        self.line_scoped = sum(1 << i for i, e in enumerate(self.entries) if e[3] == "line")
        # per (scope, window): the entries it admits, so a line's edge mask is a few ORs
        self.edge_groups = [
            (scope, window, sum(1 << i for i, e in enumerate(self.entries) if e[3] == scope and e[4] == window))
            for scope, window in self.edges
        ]
        self.by_mask: dict[int, tuple] = {}

    def _add(self, rule: CleaningRule, pattern: re.Pattern[str], max_words, scope, window) -> None:
        pre = _prefilter(rule.pattern, rule.flags) or _NO_PREFILTER
        self.entries.append((pattern, rule, max_words, scope, window, pre))

    def opening_mask(self, opening: str) -> int:
        """Entries whose possible openings admit a line opening (lower-cased ASCII)."""
        mask = self.unopened
        for width, table in self.opening_tables:
            mask |= table.get(opening[:width], 0)
        if len(self.opening_masks) >= 100_000:
            self.opening_masks = {None: self.all_entries}  # bound memory on long runs
        self.opening_masks[opening] = mask
        return mask

    def edge_mask(self, position: int, n_lines: int) -> int:
        """Entries whose scope admits a line at ``position`` of ``n_lines``."""
        mask = self.line_scoped
        for scope, window, entries in self.edge_groups:
            if scope == "head" and position < window or scope == "tail" and position >= n_lines - window:
                mask |= entries
        return mask

    def candidates(self, mask: int) -> tuple:
        """(pattern, rule, max_len, needles) of the entries in ``mask``, in match order."""
        found = tuple(
            (pattern, rule, pre.max_len, pre.needles)
            for i, (pattern, rule, _, _, _, pre) in enumerate(self.entries)
            if mask >> i & 1
        )
        self.by_mask[mask] = found
        return found


@lru_cache(maxsize=64)
def _plan(rules: tuple[CleaningRule, ...]) -> _Plan:
    return _Plan(rules)


# --------------------------------------------------------------------------- rule sets


@dataclass(frozen=True, slots=True)
class SourceRules:
    """Per-source adjustments: extra rules and names of rules switched off."""

    rules: tuple[CleaningRule, ...] = ()
    disable: frozenset[str] = frozenset()


class CompiledRules:
    """The effective rules for one source, compiled once.

    A line is matched against the rules in order (rules of the same flags, word limit,
    scope and window form a group, in order of their first rule); the first rule whose
    pattern matches the whole line fires. Cheap tests derived from each pattern (its
    possible openings, its longest match, words any match contains; see ``_Prefilter``)
    skip the regexes that cannot match. The matching plan is built once per process for
    a list of rules; pickling sends only the rules, and the plan is rebuilt (or found)
    on the other side.
    """

    def __init__(self, rules: Iterable[CleaningRule], disabled: frozenset[str]):
        self.rules: tuple[CleaningRule, ...] = tuple(r for r in rules if r.name not in disabled)
        self.disabled = disabled
        self.kinds: dict[str, str] = {**STRUCTURAL_RULES, **{r.name: r.kind for r in self.rules}}
        self._plan = _plan(self.rules)

    def __reduce__(self):
        return CompiledRules, (self.rules, self.disabled)

    def match(self, line: str, position: int, n_lines: int, n_words: int | None = None) -> CleaningRule | None:
        """The first rule whose pattern matches the whole line, or None.

        Args:
            line: the (normalised) line.
            position: its index among the body lines (for head/tail scopes).
            n_lines: number of body lines.
            n_words: the line's word count if already known.

        Returns:
            The rule that fired (the earliest in rule order within a group), or None.
        """
        if n_words is None:
            n_words = len(line.split())
        plan = self._plan
        opening = line[:_PREFIX]
        if not opening.isascii():
            opening = match_form(opening)[:_PREFIX]
        opening = opening.lower() if opening.isascii() else None
        mask = plan.opening_masks.get(opening)
        if mask is None:
            mask = plan.opening_mask(opening)
        mask &= plan.bucket_masks[plan.bucket_of[n_words] if n_words < plan.word_cap else -1]
        if plan.edges:
            mask &= plan.edge_mask(position, n_lines)
        candidates = plan.by_mask.get(mask)
        if candidates is None:
            candidates = plan.candidates(mask)
        text = lowered = None
        for pattern, rule, max_len, needles in candidates:
            if max_len is not None and len(line) > max_len:
                continue
            if needles:
                if lowered is None:
                    traps = not line.isascii() and ("\u0130" in line or "\u0131" in line or "\u017f" in line)
                    lowered = "" if traps else line.lower()
                if lowered:
                    for needle in needles:
                        if needle in lowered:
                            break
                    else:
                        continue
            if text is None:
                text = match_form(line)
            m = pattern.fullmatch(text)
            if m is not None:
                # lastgroup is the outermost group that closed last: our rN wrapper
                return rule if rule is not None else plan.by_group[m.lastgroup]
        return None

    def enabled(self, structural_rule: str) -> bool:
        """Whether a structural rule of ``parsers.clean`` is switched on for this source."""
        return structural_rule not in self.disabled


@dataclass(slots=True)
class RuleSet:
    """Default rules plus per-source extra rules and per-source disabled rule names.

    Attributes:
        rules: rules that apply to every source (``DEFAULT_RULES`` plus global extras).
        sources: per-source ``SourceRules``.
    """

    rules: tuple[CleaningRule, ...] = DEFAULT_RULES
    sources: dict[str, SourceRules] = field(default_factory=dict)
    _cache: dict[str | None, CompiledRules] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_unique(self.rules, "the global rules")
        known = {r.name for r in self.rules} | set(STRUCTURAL_RULES)
        for source, extra in self.sources.items():
            _check_unique(self.rules + extra.rules, f"source {source!r}")
            unknown = extra.disable - known - {r.name for r in extra.rules}
            if unknown:
                raise ValueError(f"source {source!r}: cannot disable unknown rules {sorted(unknown)}")

    def for_source(self, name: str | None) -> CompiledRules:
        """The compiled effective rules for source ``name`` (None: the global rules)."""
        compiled = self._cache.get(name)
        if compiled is None:
            extra = self.sources.get(name) if name is not None else None
            if extra is None:
                compiled = self._cache.get(None) or CompiledRules(self.rules, frozenset())
            else:
                compiled = CompiledRules(self.rules + extra.rules, extra.disable)
            self._cache[name] = compiled
        return compiled

    def kind_of(self, rule_name: str) -> str:
        """The kind of a rule (regex or structural) by name; ``other`` if unknown."""
        if rule_name in STRUCTURAL_RULES:
            return STRUCTURAL_RULES[rule_name]
        for rule in self.rules:
            if rule.name == rule_name:
                return rule.kind
        for extra in self.sources.values():
            for rule in extra.rules:
                if rule.name == rule_name:
                    return rule.kind
        return "learned_boilerplate" if rule_name == "learned_boilerplate" else "other"


def _check_unique(rules: tuple[CleaningRule, ...], where: str) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.name in seen or rule.name in STRUCTURAL_RULES:
            raise ValueError(f"cleaning rule {rule.name!r}: duplicate or reserved name in {where}")
        seen.add(rule.name)


_RULE_KEYS = {"name", "kind", "pattern", "scope", "window", "max_words", "ignore_case"}
_SOURCE_KEYS = {"rule", "disable"}


def _rule_from_table(table: Mapping[str, Any], where: str) -> CleaningRule:
    name = table.get("name", "<unnamed>")
    unknown = set(table) - _RULE_KEYS
    if unknown:
        raise ValueError(f"cleaning rule {name!r} ({where}): unknown keys {sorted(unknown)}")
    missing = {"name", "kind", "pattern"} - set(table)
    if missing:
        raise ValueError(f"cleaning rule {name!r} ({where}): missing keys {sorted(missing)}")
    return CleaningRule(**table)


def rules_from_mapping(doc: Mapping[str, Any], base: tuple[CleaningRule, ...] = DEFAULT_RULES) -> RuleSet:
    """Build a RuleSet from a parsed TOML document (see ``load_rules``).

    Raises:
        ValueError: unknown keys, invalid regex, unknown kind/scope, duplicate names,
            or disabling a rule that does not exist; the message names the rule or source.
    """
    unknown = set(doc) - {"rule", "source"}
    if unknown:
        raise ValueError(f"cleaning rules: unknown top-level keys {sorted(unknown)}")
    extra = tuple(_rule_from_table(t, "global") for t in doc.get("rule", []))
    sources: dict[str, SourceRules] = {}
    for source, table in doc.get("source", {}).items():
        bad = set(table) - _SOURCE_KEYS
        if bad:
            raise ValueError(f"source {source!r}: unknown keys {sorted(bad)}")
        disable = table.get("disable", [])
        if not isinstance(disable, list) or not all(isinstance(x, str) for x in disable):
            raise ValueError(f"source {source!r}: disable must be a list of rule names")
        sources[source] = SourceRules(
            rules=tuple(_rule_from_table(t, f"source {source!r}") for t in table.get("rule", [])),
            disable=frozenset(_expand_disable(disable, base + extra)),
        )
    return RuleSet(rules=base + extra, sources=sources)


def _expand_disable(names: list[str], rules: tuple[CleaningRule, ...]) -> set[str]:
    """A disable entry names a rule, or a kind (``related``) meaning all rules of that kind."""
    out: set[str] = set()
    for name in names:
        if name in KINDS:
            out.update(r.name for r in rules if r.kind == name)
            out.update(n for n, k in STRUCTURAL_RULES.items() if k == name)
        else:
            out.add(name)
    return out


def load_rules(path: str | Path) -> RuleSet:
    """Load default rules plus the global and per-source rules of a TOML file.

    The file holds ``[[rule]]`` tables (for every source) and ``[source."name"]``
    tables with ``disable = [...]`` (rule names or kinds) and ``[[source."name".rule]]``.

    Args:
        path: the TOML file (chosen by the caller).

    Returns:
        The RuleSet.

    Raises:
        ValueError: invalid TOML, unknown keys or an invalid rule (named in the message).
        OSError: the file cannot be read.
    """
    with open(path, "rb") as fh:
        try:
            doc = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"cleaning rules file {path}: {exc}") from None
    return rules_from_mapping(doc)
