"""Plain-language reasons: for each rule id, what it means to a person and how to fix it (`Hint`).

One table keyed by rule id; a rule without its own entry takes its family's (`text.acme_codename`,
a policy's own pattern, reads as `text`). Findings get their `fix` from here when the detector
gives none (scanner/model.py), and so do the verdict's reasons, errors included (`error.<code>`).
Pure data: no imports from the rest of the scanner, so the model can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

FIX_COMMAND = "`leakscan fix`"  # writes a safe copy (metadata removed, text and faces covered)


@dataclass(frozen=True, slots=True)
class Hint:
    """`summary`: what the rule means, in one plain sentence; `fix`: what the person can do about it."""

    summary: str
    fix: str


_CLEAN_METADATA = f"Run {FIX_COMMAND} to get a copy without metadata, or remove it with your photo app."
_COVER = f"Crop or cover it before sharing, or run {FIX_COMMAND} to get a copy with it blacked out."
_HUMAN = "Ask someone to look at the file before sharing it, or share a different file."

HINTS: dict[str, Hint] = {
    # --- metadata ---------------------------------------------------------------------------
    "metadata": Hint("The file carries hidden information.", _CLEAN_METADATA),
    "metadata.gps": Hint("Location is stored in this photo.",
                         f"Turn off location for the camera, or run {FIX_COMMAND}."),
    "metadata.gps.site": Hint("This photo was taken at one of the company's sites, and the file says so.",
                              f"Do not share photos taken on site; run {FIX_COMMAND} to remove the location."),
    "metadata.gps.partial": Hint("Part of a location is stored in this file.",
                                 f"Run {FIX_COMMAND} to remove it, or turn off location for the camera."),
    "metadata.gps.malformed": Hint("The file has an empty or broken location block.",
                                   f"Run {FIX_COMMAND} to remove it."),
    "metadata.identity": Hint("The file names a person, an owner or a device serial number.",
                              f"Run {FIX_COMMAND}, or clear the author and owner fields before sharing."),
    "metadata.device": Hint("The file says which camera, phone or program made it.", _CLEAN_METADATA),
    "metadata.capture_time": Hint("The file says when it was made.", _CLEAN_METADATA),
    "metadata.contact": Hint("The file holds e-mail addresses of senders or recipients.",
                             "Forward only the attachment, not the whole message."),
    "metadata.history": Hint("The document holds content a reader does not see: tracked changes, comments, "
                             "hidden slides or earlier versions.",
                             "Accept or reject all changes, delete comments and hidden parts, and save a new copy "
                             "(or export to PDF)."),
    "metadata.text": Hint("The file carries descriptions, comments or keywords.", _CLEAN_METADATA),
    "metadata.sidecar": Hint("This is a metadata file (an XMP sidecar) that travels with a photo; it has no "
                             "picture of its own to check.", "Share the photo's sidecar only when its details "
                             "(place, people, notes) may be public."),
    "metadata.thumbnail": Hint("A small preview inside the file shows a different picture, such as the part "
                               "you cropped away.", f"Run {FIX_COMMAND}; it drops the old preview."),
    "metadata.trailing_data": Hint("Data is hidden after the end of the picture (it may hold the part you "
                                   "cropped away).", f"Run {FIX_COMMAND}, or take a new screenshot."),
    "metadata.hidden_payload": Hint("Another file is hidden inside this one.",
                                    f"Run {FIX_COMMAND}, or ask IT security to look at it."),
    # --- text -------------------------------------------------------------------------------
    "text": Hint("The file shows text that should not be shared.", _COVER),
    "text.payment_card": Hint("A payment card number can be read.", _COVER),
    "text.secret": Hint("A password, PIN, key or code can be read.",
                        "Cover it before sharing, and change the password or key: consider it seen."),
    "text.codename": Hint("A project codename or customer name can be read.", _COVER),
    "text.national_id": Hint("A national ID number can be read.", _COVER),
    "text.iban": Hint("A bank account number (IBAN) can be read.", _COVER),
    "text.receipt": Hint("It shows a receipt.", "Share a photo without the receipt, or cover it."),
    "text.pos_screen": Hint("It shows a till or payment screen.", "Share a photo without the screen, or cover it."),
    "text.whiteboard": Hint("It shows a whiteboard full of writing.",
                            "Wipe the board or cover the writing before taking the photo."),
    "text.sticky_notes": Hint("It shows a wall of sticky notes with writing.",
                              "Take the notes down or cover them before taking the photo."),
    "text.email": Hint("An e-mail address can be read.", "Cover it if it is not yours to share."),
    "text.phone": Hint("A phone number can be read.", "Cover it if it is not yours to share."),
    "text.person_name": Hint("A person's name can be read.", "Cover it if it is not yours to share."),
    # --- visual -----------------------------------------------------------------------------
    "visual": Hint("The picture shows something that should not be shared.", _HUMAN),
    "visual.restricted": Hint("It looks like a place or object where photos are not allowed.",
                              "Do not share it; if the match is wrong, ask the reference owner to add an "
                              "allowed photo."),
    "visual.known_image": Hint("It is a copy of a known confidential picture.", "Do not share it."),
    "visual.screen": Hint("It shows a screen.", "Check that nothing readable on the screen is private."),
    "visual.whiteboard": Hint("It shows a whiteboard.", "Check that nothing written on it is private."),
    "visual.card_terminal": Hint("It shows a card terminal, payment kiosk or cash machine.",
                                 "Check that no card, PIN entry or amount is visible; crop it out if it is."),
    "visual.document": Hint("It shows a document.", "Check that nothing readable on it is private."),
    # --- faces (detector added separately) --------------------------------------------------
    "faces": Hint("The picture shows people.", f"Ask them first, or run {FIX_COMMAND} to blur their faces."),
    "faces.person": Hint("It shows a person who is not on the consent list.",
                         f"Ask them first (then add them to the consent list), or run {FIX_COMMAND} to blur "
                         "their face."),
    "faces.consented": Hint("It shows a person who agreed to be photographed.", "Nothing to do."),
    "faces.badge": Hint("It shows an ID badge or name tag.",
                        f"Turn the badge around or cover it, or run {FIX_COMMAND}."),
    # --- errors: the file could not be fully checked ----------------------------------------
    "error": Hint("The file could not be fully checked.", _HUMAN),
    "error.unreadable": Hint("The file could not be read.", "Check that the file exists and can be opened."),
    "error.unsupported": Hint("This kind of file cannot be checked.",
                              "Save it as a common format (JPEG, PNG, PDF) and scan it again, or ask someone "
                              "to look at it."),
    "error.corrupt": Hint("The file is damaged, so it could not be fully checked.",
                          "Export or save the file again and scan the new copy."),
    "error.too_large": Hint("The file is too large to check.", "Share a smaller copy, or ask someone to look at it."),
    "error.timeout": Hint("Checking the file took too long.",
                          "Scan it again with a longer --timeout, or ask someone to look at it."),
    "error.engine_unavailable": Hint("A part of the scanner needed for this file is not installed.",
                                     "Ask whoever set up leakscan to install it (see README)."),
    "error.engine_error": Hint("A part of the scanner failed on this file.",
                               "Scan it again; if it fails again, ask someone to look at it."),
    "error.internal": Hint("The scanner failed on this file.", "Scan it again; if it fails again, report it."),
}

FALLBACK = Hint("Something in the file should be checked.", _HUMAN)


def hint_for(rule_id: str) -> Hint:
    """The entry for `rule_id`, else for its closest family (`text.secret.x` -> `text.secret` -> `text`)."""
    parts = rule_id.split(".")
    for n in range(len(parts), 0, -1):
        hint = HINTS.get(".".join(parts[:n]))
        if hint is not None:
            return hint
    return FALLBACK


def fix_for(rule_id: str) -> str:
    return hint_for(rule_id).fix
