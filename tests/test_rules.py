"""Cleaning rules: each rule on the real line it removes, prose that must stay, RuleSet and TOML."""

import pickle

import pytest

from parsers.clean import clean, is_date_stamp, is_prose, strip_boilerplate
from parsers.rules import DEFAULT_RULES, CleaningRule, RuleSet, load_rules, match_form

RULES = RuleSet()
COMPILED = RULES.for_source(None)


def fired(line: str, position: int = 5, n_lines: int = 20) -> str | None:
    rule = COMPILED.match(line, position, n_lines)
    return rule.name if rule else None


@pytest.mark.parametrize(
    "line, rule",
    [
        ("Abid Katib/Getty Images", "photo_credit_agency_slash"),
        ("Sanjeev Verma/Hindustan Times/Getty Images", "photo_credit_agency_slash"),
        ("Jim Watson/AFP via Getty Images", "photo_credit_agency_slash"),
        ("Alex Wong | Getty Images", "photo_credit_agency_slash"),
        ("Natalie Naccache | Bloomberg | Getty Images", "photo_credit_agency_slash"),
        ("(AP Photo/Evan Vucci)", "photo_credit_parenthesized"),
        ("(Reed Saxon / Associated Press)", "photo_credit_parenthesized"),
        ("REUTERS/Kevin Lamarque", "photo_credit_agency_first"),
        ("Photo: Damian Dovarganes, AP", "photo_credit_label"),
        ("Image Credit: WeWork", "photo_credit_label"),
        ("Credit: Jane Doe for The New York Times", "photo_credit_label"),
        ("Photograph: Tim Robberts/Getty Images", "photo_credit_label"),
        ("Image source, Getty Images", "photo_credit_image_source"),
        ("Getty Images", "photo_credit_agency_alone"),
        ("AFP via Getty Images", "photo_credit_agency_alone"),
        ("File photo", "photo_credit_agency_alone"),
        ("Above: A WeWork coworking space in San Francisco.", "caption_label"),
        ("Image 1 of 23", "gallery_counter"),
        ("Please let us know if you're having issues with commenting.", "comment_footer_having_issues"),
        ("Associated Press writers Alan Fram and Zeke Miller contributed to this report.", "byline_meta_contributed"),
        ("(Jane Doe contributed reporting from Paris and Lyon.)", "byline_meta_contributed"),
        ("Please let us know if you’re having issues with commenting.", "comment_footer_having_issues"),
        ("Join the discussion", "comment_footer_join"),
        ("Comments (12)", "comment_footer_count"),
        ("604 COMMENTS", "comment_footer_count"),
        ("Leave a comment", "comment_footer_action"),
        ("Show comments", "comment_footer_action"),
        ("Sign up for our newsletter", "newsletter_sign_up"),
        ("Get our daily Entertainment newsletter", "newsletter_get"),
        ("Follow us on Twitter", "social_follow"),
        ("Follow The New York Times Opinion section on Facebook, Twitter (@NYTopinion) and Instagram.", "social_follow"),
        ("Read more: Tencent profit falls as Alibaba threat weighs", "related_read_more"),
        ("Related: Five things to know", "related_read_more"),
        ("Click here to subscribe to The Paradigm Newsletter", "promo_click_here"),
        ("Subscribe", "promo_account_navigation"),
        ("Advertisement", "advertisement_label"),
        ("Share this article", "share_this"),
        ("Facebook Twitter Email", "share_bar"),
        ("Most Popular", "related_label"),
        ("Subscribe Sign In", "promo_account_navigation"),
        ("Privacy Policy | Terms of Service", "legal_navigation"),
        ("© 2024 Reuters", "copyright_notice"),
        ("Copyright @ 2019 The New Arab.", "copyright_notice"),
        ("Copyright 2024 The Associated Press. All rights reserved.", "copyright_notice"),
        ("This material may not be published, broadcast, rewritten or redistributed.", "copyright_may_not_be_published"),
        ("(Reporting by Greg Roumeliotis; editing by Martin Howell.)", "byline_meta_reporting"),
        ("Updated 1:39 am EST, Wednesday, November 20, 2019", "byline_meta_published"),
        ("You must log in to post a comment.", "comment_footer_other"),
        ("Devi essere connesso per inviare un commento.", "comment_footer_other"),
        ("Você precisa estar logado para publicar um comentário.", "comment_footer_other"),
        ("Save my name, email, and website in this browser for the next time I comment.", "comment_footer_other"),
        ("Your email address will not be published. Required fields are marked *", "comment_footer_other"),
        ("Jamie Cassidy on November 15, 2018 at 10:12 am said:", "comment_footer_header"),
        ("Rating: 36 Votes", "comment_footer_votes"),
        ("12 likes", "comment_footer_votes"),
        (
            "Start your day with the Opening Bell. It is the preferred reading of finance professionals. "
            "Sign up for the free daily newsletter.",
            "newsletter_call_to_action",
        ),
        ("In each episode of his weekly show, he will delve a little deeper into politics. Click to subscribe!", "newsletter_call_to_action"),
        ("Do you rely on our reporting? Click here to support it.", "promo_click_here"),
        ("Get the magazine delivered every month. 12 issues for £11.99. Click here for more information.", "promo_click_here"),
        ("GET FOX BUSINESS ON THE GO BY CLICKING HERE", "promo_click_here"),
        ("Microsoft may earn an Affiliate Commission if you purchase something through recommended links in this article.", "promo_affiliate_disclosure"),
        ("This post contains affiliate links.", "promo_affiliate_disclosure"),
        ("Follow RT on", "social_follow_label"),
        ("Follow Us", "social_follow_label"),
        ("Siga-nos", "social_follow_label"),
        ("Print This Article Share it With Friends", "share_bar"),
        ("View all (23)", "related_label"),
        ("Explore further", "related_label"),
        ("More Business News", "related_label"),
        ("Next Up In Tech", "related_label"),
        ("Also on rt.com Journalists threatened with sedition arrests as Bolivia purges socialist elements", "related_also_on_site"),
        ("On HoustonChronicle.com: Group 1 Auto makes inroads in online sales", "related_also_on_site"),
        ("Tag: digitimes.com", "related_tags"),
        ("Subjects: Crime, Drugs, Immigration", "related_tags"),
        ("https://static.example.com/image/5dd3a081-500-250/10-things-in-tech.jpg", "other_image_url"),
        ("Opinions expressed by Forbes Contributors are their own.", "legal_opinion_disclaimer"),
        ("The views expressed in this article are those of the author.", "legal_opinion_disclaimer"),
        ("Edited by: Louis Jacobson", "byline_meta_credit_label"),
        ("Researched by: Matthew Digby, Minh Do", "byline_meta_credit_label"),
        ("7H ago 08:51", "date_stamp"),
        (
            "We use cookies and other tracking technologies to improve your browsing experience on our site, show "
            "personalized content and targeted ads, analyze site traffic, and understand where our audiences come from.",
            "legal_terms",
        ),
        ("By choosing I Accept, you consent to our use of cookies and other tracking technologies.", "legal_terms"),
        ("Use of and/or registration on any portion of this site constitutes acceptance of our Terms of Use", "legal_terms"),
        ("Privacy Overview", "legal_navigation"),
        ("Vicente Aguiar loads garage door trims into his pickup truck in Hialeah, Fla. (AP Photo/Alan Diaz, File)", "caption_with_credit"),
        ("A cyclist rides next to a blocked petrol plant in La Paz, Bolivia, November 19, 2019. © Reuters / David Mercado", "caption_with_credit"),
        ("Plague can be easily vaccinated (Image: GETTY)", "caption_with_credit"),
        ("Join Discussion", "comment_footer_join"),
        ("NEXT PREV", "related_label"),
        ("Read more", "related_label"),
        ("Previous Post:2012 Harley-Davidson Fatboy 1800 | Reader review", "related_read_more"),
        ("Next article: Tech Level course to help young mechanics", "related_read_more"),
        ("Post navigation", "related_label"),
        ("1of4Grass Valley's Dionicio Torres looks at the gas can selection before taking the last can", "gallery_counter_caption"),
        ("RECENT ARTICLES", "related_label"),
        ("Tell us what YOU think...", "comment_footer_join"),
        ("Like this:", "share_this"),
        ("Like Loading...", "share_this"),
        ("Please review our terms of service to complete your newsletter subscription.", "newsletter_inbox"),
        (
            "If you enjoyed this article, we have a proposition for you: join our members' club. Members get all of our "
            "content, no paywalls or content meters, an advertising-minimal experience, and unique access to our writers.",
            "promo_reader_appeal",
        ),
        ("Since you're here, we have a small favour to ask.", "promo_reader_appeal"),
        (
            "Quotes delayed at least 15 minutes. Real-time quotes provided by BATS BZX Real-Time Price. "
            "Market Data provided by Interactive Data (Terms & Conditions)",
            "legal_market_data",
        ),
        ("Necessary Always Enabled", "legal_navigation"),
    ],
)
def test_rule_removes_real_line(line, rule):
    if rule == "date_stamp":
        assert fired(line) is None and is_date_stamp(line)
    else:
        assert fired(line) == rule


@pytest.mark.parametrize(
    "line",
    [
        "Getty Images photographer Abid Katib said the crowd was larger than expected.",
        "Readers left more than 200 comments on the post, the newspaper said.",
        "She signed up for the newsletter in 2019 and later sued.",
        "He said he would subscribe to the plan if the board agreed to it.",
        "Reuters reported on Monday that the deal had collapsed.",
        "The photo was taken in 2019 and shared widely online, officials said.",
        "Click-through rates fell sharply, the company said.",
        "Follow-up talks are planned for next week in Geneva.",
        "Related parties must disclose their holdings, the regulator said.",
        "Copyright lawyers said the ruling would change the industry.",
        "Shares rose 3% | Bloomberg reported the deal first, citing people familiar with it.",
        "Email the reporter at jane@example.com or follow her @jane on Twitter for updates.",
        "Share prices fell 3% on the news.",
        "More than 200 people died in the floods.",
        "Join us on Monday for a talk about the election.",
        "A spokesperson for the NYAG declined to comment.",
        'Privacy, like environmental sustainability, are not "bolt-on things," Cook said.',
        "Login problems plagued the site for days.",
        "Read the response from the ministry.",
        "TEL AVIV – Hamas has warned Israel against provoking another violent conflict.",
        # the new rules' words inside real sentences
        "Officials said voters must log in to the portal before they can comment on the plan.",
        "The minister said: the rating agency cut its outlook after 36 votes in parliament.",
        "At 10:30 the spokesman said: we will not negotiate.",
        "The bill passed with 52 votes.",
        "Climate change contributed to the report's bleak conclusion, scientists said.",
        "She contributed reporting to the investigation that won a Pulitzer.",
        "3 points",  # a cell of a sports table, not a comment's score
        "Regulators fined the site after users who clicked here and there lost money, the report said.",
        "If you enjoyed the first season, the second is darker, critics said.",
        "The company may earn a commission from the deal, analysts said.",
        "Investors follow the market on Fridays.",
        "Print runs of the newspaper fell by half.",
        "Sales on Amazon.com rose 20% during the holiday, the company said.",
        "Also on Monday, the central bank raised rates.",
        "Subject to approval, the merger will close next year.",
        "Opinions expressed by the judges differed sharply.",
        "Edited by his widow, the memoir became a bestseller.",
        "He was the most-viewed reporter on the network, according to ratings.",
        "More business owners are applying for loans than last year.",
        "Explore the city on foot if you can, the guide said.",
        "Google said it would stop using third-party cookies in Chrome, and regulators welcomed the move.",
        "Necessary reforms were delayed again, the minister said.",
        "Accept the offer, the union told its members on Tuesday.",
        "He posted a picture of the crowd (photo above) and it spread widely.",
        "The agency sold the image (photo by a freelancer) for $500, court papers show, and the case was closed.",
        "Readers who like this kind of story should subscribe, the editor joked at the meeting.",
        "Read more carefully, the judge told the lawyers.",
        "Since you're here, the mayor told reporters, you may as well see the new bridge.",
        "Share prices were delayed 15 minutes by the outage, traders said.",
        "Next post office to close will be in the village, the company said.",
        "Recent articles in the journal questioned the findings.",
        "3 of 4 people surveyed said they would vote again, the poll found.",
        "Tell us what you think about the plan, the mayor urged residents at the meeting.",
    ],
)
def test_prose_stays(line):
    assert fired(line) is None
    assert not is_date_stamp(line)


def test_concatenated_share_bar_is_share_kind():
    rule = COMPILED.match("Share to LinkedInLinkedInShare to FacebookFacebookShare to EmailEmail", 5, 20)
    assert rule is not None and rule.kind == "share"


def test_typography_folding():
    assert match_form("you’re “here” – now…") == "you're \"here\" - now..."


def test_strip_boilerplate_positions_and_structural_rules():
    lines = [
        "Abid Katib/Getty Images",
        "By Jane Doe and John Roe",
        "Reuters November 18, 2019 11:03 PM",
        "The first paragraph of the story has quite a few words in it.",
        "A second paragraph also reads like prose, as articles do.",
        "Related Coverage",
        "Another story headline without a full stop",
        "Please let us know if you're having issues with commenting.",
    ]
    kept, removed = strip_boilerplate(lines, RULES)
    assert kept == lines[3:5]
    assert [(r.position, r.rule) for r in removed] == [
        (0, "photo_credit_agency_slash"),
        (1, "byline"),
        (2, "date_stamp"),
        (5, "related_label"),
        (6, "edge_nonprose_tail"),
        (7, "comment_footer_having_issues"),
    ]


def test_subheadings_inside_the_body_stay():
    lines = [
        "The first paragraph of the story has quite a few words in it.",
        "What happens next",
        "A second paragraph also reads like prose, as articles do.",
    ]
    assert strip_boilerplate(lines, RULES)[0] == lines


STORY = [
    "The city council voted on Tuesday to close the harbour bridge for repairs next spring, officials said.",
    "Engineers found cracks in two of the bridge's steel supports during an inspection in March this year.",
    "Drivers will be sent across the river on a ferry service that the council plans to run every hour.",
    "Shop owners near the bridge said they feared losing customers for months while the work goes on.",
]


def test_removed_furniture_separates_a_teaser_from_the_story():
    teaser = "A rival town plans a new ferry terminal, its mayor said on Monday."
    lines = STORY + ["Facebook Twitter Email", "Most Popular", "November 18, 2019", teaser]
    kept, removed = strip_boilerplate(lines, RULES)
    assert kept == STORY
    assert (len(lines) - 1, "edge_minor_block") in [(r.position, r.rule) for r in removed]


def test_cleaning_the_kept_lines_again_removes_nothing_when_furniture_separated_blocks():
    # the furniture between the story and the first side block is gone on a second pass, so the
    # two join and outweigh the second side block: the first pass must already drop it
    rival = "A rival town plans a new ferry terminal on the river bank, its mayor said on Monday at a meeting."
    fares = "Bus fares will rise by ten cents next year, the county transport office said on Friday."
    lines = STORY + ["Facebook Twitter Email", "Most Popular", "November 18, 2019", rival, "Weather", "Traffic", "Sports", fares]
    kept, removed = strip_boilerplate(lines, RULES)
    assert kept == STORY + [rival]
    assert strip_boilerplate(kept, RULES) == (kept, [])


def test_the_story_run_together_again_is_duplicate_text():
    repeat = " ".join(STORY)  # a page's metadata copy of the body, one long line
    kept, removed = strip_boilerplate(STORY + [repeat], RULES)
    assert kept == STORY and [(r.position, r.rule) for r in removed] == [(len(STORY), "duplicate_text")]


def test_a_line_saying_the_same_text_twice_is_duplicate_text():
    teaser = "The best Black Friday TV deals of 2019 The best Black Friday TV deals of 2019"
    kept, removed = strip_boilerplate(STORY + [teaser], RULES)
    assert kept == STORY and removed[-1].rule == "duplicate_text"
    chant = "Bring them home, bring them home, the crowd chanted outside parliament."
    assert strip_boilerplate(STORY + [chant], RULES)[0] == STORY + [chant]
    # a long paragraph that repeats itself is the body, not a teaser: a dump made of it stays an article
    looped = " ".join(["Dockers voted to return to work on Monday after a week on strike."] * 8)
    assert strip_boilerplate([looped], RULES)[0] == [looped]


def test_a_paragraph_reusing_some_earlier_words_is_not_duplicate_text():
    dek = "The harbour bridge will close for repairs next spring, the council said."
    lead = (
        "The harbour bridge will close for repairs next spring, the council said on Tuesday, after engineers "
        "found cracks in two steel supports and warned that heavy lorries could make them worse within a year."
    )
    follow = (
        "Engineers found cracks in two of the bridge's steel supports during an inspection in March this year, "
        "and the council's transport chief said the findings left no choice but to close it for the whole season."
    )
    lines = [dek, lead, *STORY, follow]
    assert strip_boilerplate(lines, RULES)[0] == lines


def test_links_under_a_related_heading_are_a_related_list():
    links = ["Jeffrey Epstein jail guards charged with falsifying records", "Man arrested after 7 trafficking victims found in car"]
    lines = STORY[:2] + ["Trending News", *links] + STORY[2:]
    kept, removed = strip_boilerplate(lines, RULES)
    assert kept == STORY
    assert [(r.text, r.rule) for r in removed if r.rule == "related_list"] == [(t, "related_list") for t in links]
    # under another label (key points are the story's own), short lines stay
    points = ["Bridge closes in spring", "A ferry every hour"]
    lines = STORY[:2] + ["Key points", *points] + STORY[2:]
    assert strip_boilerplate(lines, RULES)[0] == STORY[:2] + points + STORY[2:]


COMMENT = (
    "I drive over that bridge every day and the cracks have been visible for years, so why did it take an "
    "inspection in March for the council to act? Somebody should answer for the delay, and for the ferry plan too."
)


def test_reader_comments_after_a_comment_header_are_never_the_story():
    lines = STORY + [
        "3 Comments",
        "Jane Roe on November 15, 2018 at 10:12 am said:",
        COMMENT,
        COMMENT.replace("every day", "most days"),
        "John Doe on November 16, 2018 at 9:01 am said:",
        COMMENT.replace("for years", "since 2015"),
    ]
    kept, removed = strip_boilerplate(lines, RULES)
    assert kept == STORY
    assert [r.rule for r in removed if r.text.startswith("I drive")] == ["comment_thread"] * 3
    assert strip_boilerplate(kept, RULES) == (kept, [])


def test_comments_alone_are_kept():
    lines = ["Jane Roe on November 15, 2018 at 10:12 am said:", COMMENT]
    assert strip_boilerplate(lines, RULES)[0] == [COMMENT]


def test_credits_captions_and_ads_do_not_split_a_story():
    last = "The council will vote again in June, it said."
    lines = STORY + ["Abid Katib/Getty Images", "Above: The bridge at dusk.", "Advertisement", last]
    kept, _ = strip_boilerplate(lines, RULES)
    assert kept == STORY + [last]


def test_a_short_closing_sentence_stays_but_trailing_furniture_goes():
    # under six words it is not prose, yet right after the story it is the story's last line
    for last in ["The trial continues Monday.", "Fine variant sentence here.", "“We will be back,” she said."]:
        assert strip_boilerplate(STORY + [last], RULES)[0] == STORY + [last], last
    closing = ["The trial continues Monday.", "Minton denies all charges."]  # and several of them
    assert strip_boilerplate(STORY + closing + ["Thanks for reading!"], RULES)[0] == STORY + closing
    for junk, rule in [("Thanks for reading!", "promo_reader_appeal"), ("More on this story.", "related_label"),
                       ("Story Continues Below Here.", "edge_nonprose_tail"), ("Tags: budget council", "related_tags")]:
        kept, removed = strip_boilerplate(STORY + [junk], RULES)
        assert kept == STORY and removed[-1].rule == rule, junk
    # only the line right after the story: a short sentence after an unknown short line is not its end
    kept, removed = strip_boilerplate(STORY + ["Story Continues Below Here.", "The trial continues Monday."], RULES)
    assert kept == STORY and [r.rule for r in removed] == ["edge_nonprose_tail", "edge_nonprose_tail"]


def test_name_slash_outlet_and_courtesy_lines_are_photo_credits():
    for line, rule in [("Marta Lindqvist/Coastline Wire", "photo_credit_name_slash_outlet"),
                       ("Jane Doe / The Daily Herald", "photo_credit_name_slash_outlet"),
                       ("Courtesy of the Northgate Museum", "photo_credit_courtesy")]:
        kept, removed = strip_boilerplate(STORY[:1] + [line] + STORY[1:], RULES)
        assert kept == STORY and [(r.rule, r.kind) for r in removed] == [(rule, "photo_credit")], line
    # prose and lower-case pairs with a slash stay
    for line in ["Courtesy of the council, the park reopened on Monday after the repairs were done.",
                 "The city/state budget", "Revenue rose in the first/second quarter of the year, the company said."]:
        assert strip_boilerplate(STORY[:1] + [line] + STORY[1:], RULES)[0] == STORY[:1] + [line] + STORY[1:], line


def test_long_title_case_runs_are_not_prose():
    # another story's headline, a menu run together: long, but no punctuation and mostly capitalised
    assert not is_prose("Kevin McCarthy Threatens to Call ABC Execs before Congress If They Refuse to Answer Questions on Epstein Reporting")
    assert not is_prose("Subscribe Book Shop Travel With Us SmartNews History Science Ingenuity Arts & Culture Travel At the Smithsonian Photos")
    # real prose stays prose: a long sentence without a full stop, and German with its capitalised nouns
    assert is_prose("the council said the harbour bridge would close for repairs next spring and reopen in the autumn of next year")
    assert is_prose("Die Regierung in Berlin hat am Dienstag beschlossen, die Brücke im Frühjahr für Reparaturen zu schließen")
    headline = "Rival Town Plans New Ferry Terminal As Bridge Closure Looms Over Shop Owners And Commuters Alike"
    kept, removed = strip_boilerplate(STORY + [headline], RULES)
    assert kept == STORY and removed[-1].rule == "edge_nonprose_tail"


def test_date_stamp():
    assert is_date_stamp("Chris Davies - Nov 19, 2019, 10:31 pm CST")
    assert is_date_stamp("November 12, 2018")
    assert is_date_stamp("2019-11-19T08:57:40+01:00")  # ISO 8601 left by a page's <time> element
    assert is_date_stamp("10H ago 01:09")
    assert not is_date_stamp("The 2019-11-19T08:57 build broke the payments system, engineers said.")
    assert not is_date_stamp("In 2019, 5 people died on the road.")
    assert not is_date_stamp("The vote is on March 3 in the capital")


def test_clean_drops_headline_and_boilerplate():
    text = "Headline here\n\nAbid Katib/Getty Images\n\nA body paragraph that reads like prose, as it should.\n\nAdvertisement"
    assert clean(text) == "A body paragraph that reads like prose, as it should."


def test_invalid_rule_names_itself():
    with pytest.raises(ValueError, match="bad_one"):
        CleaningRule("bad_one", "promo", "(unclosed")
    with pytest.raises(ValueError, match="bad_kind"):
        CleaningRule("bad_kind", "nonsense", "x")
    with pytest.raises(ValueError, match="bad_scope"):
        CleaningRule("bad_scope", "promo", "x", scope="middle")


def test_default_rule_names_are_unique_and_start_with_kind():
    names = [r.name for r in DEFAULT_RULES]
    assert len(names) == len(set(names))
    assert all(r.name.startswith(r.kind) for r in DEFAULT_RULES)


TOML = """
[[rule]]
name = "paywall_notice"
kind = "promo"
pattern = "Subscribers only.*"

[source."breitbart"]
disable = ["related", "photo_credit_agency_slash", "photo_credit_name_slash_outlet"]

[[source."breitbart".rule]]
name = "bb_footer"
kind = "comment_footer"
pattern = "Breitbart News comment policy.*"
scope = "tail"
window = 3
"""


def test_load_rules_per_source(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(TOML)
    rules = load_rules(path)
    default, bb = rules.for_source("other"), rules.for_source("breitbart")
    assert default.match("Subscribers only: read on", 0, 10).name == "paywall_notice"
    assert bb.match("Subscribers only: read on", 0, 10).name == "paywall_notice"
    assert default.match("Read more: other story", 0, 10).name == "related_read_more"
    assert bb.match("Read more: other story", 0, 10) is None  # kind "related" disabled
    assert bb.match("Abid Katib/Getty Images", 0, 10) is None  # both rules that take it disabled
    # tail scope: only among the last 3 lines
    assert bb.match("Breitbart News comment policy applies", 9, 10).name == "bb_footer"
    assert bb.match("Breitbart News comment policy applies", 2, 10) is None
    assert default.match("Breitbart News comment policy applies", 9, 10) is None
    assert rules.kind_of("bb_footer") == "comment_footer"


@pytest.mark.parametrize(
    "toml, message",
    [
        ('[[rule]]\nname = "x1"\nkind = "promo"\npattern = "(oops"\n', "x1"),
        ('[[rule]]\nname = "x2"\nkind = "promo"\npattern = "a"\ncolour = "red"\n', "x2"),
        ('[source."s"]\ndisable = ["no_such_rule"]\n', "no_such_rule"),
        ('[source."s"]\nfoo = 1\n', "'s'"),
        ('[[rule]]\nname = "byline"\nkind = "promo"\npattern = "a"\n', "byline"),
    ],
)
def test_load_rules_errors(tmp_path, toml, message):
    path = tmp_path / "rules.toml"
    path.write_text(toml)
    with pytest.raises(ValueError, match=message):
        load_rules(path)


def test_ruleset_pickles_after_compiling():
    RULES.for_source("x")
    clone = pickle.loads(pickle.dumps(RULES))
    assert clone.for_source("x").match("Getty Images", 0, 5).name == "photo_credit_agency_alone"
