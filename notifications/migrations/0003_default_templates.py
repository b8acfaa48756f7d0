"""The operator's default vigilance notice, "Vigilance notice", in English, French,
Spanish and German (DESIGN.md flow 7).

The words live here, not in a module the migration imports: a migration must build
the same rows whenever it runs, and the operator edits the defaults afterwards in the
console. The text and HTML bodies are built from one outline per language, so the two
always say the same thing.

Reversing deletes the defaults this migration made (by name and language), edited or
not; accounts' own copies are theirs and stay.
"""

from html import escape

from django.db import migrations

NAME = "Vigilance notice"

# One outline per language. "sections" are (heading, blocks); a block is a paragraph,
# a list of bullets, (STRONG, paragraph), or one of the markers REPORT_BUTTON and
# CONTACT (the designated contact's email and phone).
REPORT_BUTTON = "report-button"
CONTACT = "contact"
STRONG = "strong"

NOTICES = {
    "en": {
        "subject": "Security notice from {{ account_name }}: beware of anyone asking for your sign-in codes",
        "greeting": "Hello {{ recipient_name }},",
        "intro": [
            "We are writing about a security incident at a telephony provider that delivers "
            "the text messages and calls {{ account_name }} uses for multi-factor sign-in "
            "(MFA). You do not need to change anything today, but please take two minutes to "
            "read this message: it will help you recognise a scam.",
        ],
        "sections": [
            (
                "What was exposed",
                [
                    "An attacker copied the provider's records of the messages it sent between "
                    "{{ exposure_start }} and {{ exposure_end }}. About you, these records show:",
                    [
                        "your phone number (the one ending in {{ phone_last_digits }}), your "
                        "mobile carrier and your country;",
                        "the date, time and type (text message or voice call) of the sign-in "
                        "messages sent to it: {{ message_count }} in that period.",
                    ],
                    "The records do not contain what the messages said: no codes, no "
                    "passwords, nothing you typed.",
                ],
            ),
            (
                "What to expect",
                [
                    "Whoever holds these records may contact you pretending to be our IT team, "
                    "the help desk or the company that sends our sign-in codes. They may call, "
                    "text or email you. They can sound convincing, and may even mention your "
                    "phone number or the times you really signed in.",
                    "Most often they will try to make you read out a code you have just "
                    "received, or approve a sign-in request (a push notification) on your "
                    "phone.",
                ],
            ),
            (
                "What to do",
                [
                    [
                        "Never share a sign-in code with anyone, whoever they say they are.",
                        "Never approve a sign-in request that you did not start yourself.",
                        "If in doubt, hang up or do not reply, and tell us.",
                    ],
                    (
                        STRONG,
                        "We will never ask you for a code, or ask you to approve a sign-in "
                        "request, by phone, text message or email.",
                    ),
                ],
            ),
            (
                "Who to tell",
                [
                    "If you receive a call or message like this, or are unsure about one, "
                    "report it with your personal link. It takes a minute and you do not need "
                    "to sign in:",
                    REPORT_BUTTON,
                    "You can also contact {{ contact_name }}:",
                    CONTACT,
                    "If you have already shared a code or approved a request you did not "
                    "expect, tell {{ contact_name }} straight away: acting quickly makes all "
                    "the difference.",
                ],
            ),
        ],
        "button": "Report a suspicious call or message",
        "link_hint": "If the button does not work, copy this link into your browser:",
        "email_label": "Email",
        "phone_label": "Phone",
        "closing": ["Thank you for staying alert.", "{{ account_name }}"],
        "footer": "You are receiving this message because your phone number appears in the "
        "records described above. The report link is yours alone: please do not forward "
        "this email.",
    },
    "fr": {
        "subject": "Avis de sécurité de {{ account_name }} : méfiez-vous de toute demande de code de connexion",
        "greeting": "Bonjour {{ recipient_name }},",
        "intro": [
            "Nous vous écrivons au sujet d'un incident de sécurité chez un opérateur "
            "téléphonique qui achemine les SMS et les appels utilisés par {{ account_name }} "
            "pour l'authentification multifacteur (MFA). Vous n'avez rien à modifier "
            "aujourd'hui, mais prenez deux minutes pour lire ce message : il vous aidera à "
            "reconnaître une tentative d'escroquerie.",
        ],
        "sections": [
            (
                "Ce qui a été exposé",
                [
                    "Un attaquant a copié les journaux des messages envoyés par cet opérateur "
                    "entre le {{ exposure_start }} et le {{ exposure_end }}. Vous concernant, "
                    "ces journaux indiquent :",
                    [
                        "votre numéro de téléphone (celui qui se termine par "
                        "{{ phone_last_digits }}), votre opérateur mobile et votre pays ;",
                        "la date, l'heure et le type (SMS ou appel vocal) des messages de "
                        "connexion qui lui ont été envoyés : {{ message_count }} sur cette "
                        "période.",
                    ],
                    "Ces journaux ne contiennent pas le texte des messages : aucun code, aucun "
                    "mot de passe, rien de ce que vous avez saisi.",
                ],
            ),
            (
                "À quoi vous attendre",
                [
                    "La personne qui détient ces journaux pourrait vous contacter en se faisant "
                    "passer pour notre service informatique, le support technique ou le "
                    "fournisseur de nos codes de connexion. Elle pourrait vous appeler, vous "
                    "envoyer un SMS ou un e-mail, se montrer convaincante, et même citer votre "
                    "numéro ou les heures de vos vraies connexions.",
                    "Le plus souvent, elle cherchera à vous faire lire un code que vous venez "
                    "de recevoir, ou à vous faire approuver une demande de connexion (une "
                    "notification push) sur votre téléphone.",
                ],
            ),
            (
                "Les bons réflexes",
                [
                    [
                        "Ne communiquez jamais un code de connexion, quelle que soit la personne "
                        "qui vous le demande.",
                        "N'approuvez jamais une demande de connexion que vous n'avez pas lancée "
                        "vous-même.",
                        "En cas de doute, raccrochez ou ne répondez pas, puis prévenez-nous.",
                    ],
                    (
                        STRONG,
                        "Nous ne vous demanderons jamais de code, ni d'approuver une demande de "
                        "connexion, que ce soit par téléphone, par SMS ou par e-mail.",
                    ),
                ],
            ),
            (
                "Qui prévenir",
                [
                    "Si vous recevez un appel ou un message de ce genre, ou si vous avez un "
                    "doute, signalez-le grâce à votre lien personnel. Cela prend une minute, "
                    "sans vous connecter :",
                    REPORT_BUTTON,
                    "Vous pouvez aussi contacter {{ contact_name }} :",
                    CONTACT,
                    "Si vous avez déjà communiqué un code ou approuvé une demande inattendue, "
                    "prévenez {{ contact_name }} sans attendre : chaque minute compte.",
                ],
            ),
        ],
        "button": "Signaler un appel ou un message suspect",
        "link_hint": "Si le bouton ne fonctionne pas, copiez ce lien dans votre navigateur :",
        "email_label": "E-mail",
        "phone_label": "Téléphone",
        "closing": ["Merci de votre vigilance.", "{{ account_name }}"],
        "footer": "Vous recevez ce message parce que votre numéro de téléphone figure dans les "
        "journaux décrits ci-dessus. Le lien de signalement vous est personnel : merci de ne "
        "pas transférer cet e-mail.",
    },
    "es": {
        "subject": "Aviso de seguridad de {{ account_name }}: desconfíe de quien le pida sus códigos de acceso",
        "greeting": "Hola, {{ recipient_name }}:",
        "intro": [
            "Le escribimos para informarle de un incidente de seguridad en un proveedor de "
            "telefonía que entrega los SMS y las llamadas que {{ account_name }} utiliza para "
            "la autenticación multifactor (MFA). Hoy no tiene que cambiar nada, pero le pedimos "
            "que dedique dos minutos a leer este mensaje: le ayudará a reconocer un intento de "
            "fraude.",
        ],
        "sections": [
            (
                "Qué datos quedaron expuestos",
                [
                    "Un atacante copió los registros de los mensajes que el proveedor envió "
                    "entre el {{ exposure_start }} y el {{ exposure_end }}. En su caso, esos "
                    "registros muestran:",
                    [
                        "su número de teléfono (el que termina en {{ phone_last_digits }}), su "
                        "operador móvil y su país;",
                        "la fecha, la hora y el tipo (SMS o llamada) de los mensajes de acceso "
                        "enviados a ese número: {{ message_count }} en ese periodo.",
                    ],
                    "Los registros no incluyen el texto de los mensajes: ni códigos, ni "
                    "contraseñas, ni nada de lo que usted haya escrito.",
                ],
            ),
            (
                "Qué puede ocurrir",
                [
                    "Quien tenga estos registros podría ponerse en contacto con usted "
                    "haciéndose pasar por nuestro equipo de informática, el servicio de "
                    "asistencia o la empresa que nos proporciona los códigos de acceso. Podría "
                    "llamarle o escribirle por SMS o por correo electrónico, resultar "
                    "convincente e incluso mencionar su número o las horas en que usted inició "
                    "sesión de verdad.",
                    "Lo más habitual es que intente que usted le lea un código que acaba de "
                    "recibir o que apruebe una solicitud de inicio de sesión (una notificación "
                    "push) en su teléfono.",
                ],
            ),
            (
                "Qué hacer",
                [
                    [
                        "No comparta nunca un código de acceso con nadie, diga quien diga que es.",
                        "No apruebe nunca una solicitud de inicio de sesión que no haya iniciado "
                        "usted.",
                        "Si tiene dudas, cuelgue o no responda, y avísenos.",
                    ],
                    (
                        STRONG,
                        "Nunca le pediremos un código ni que apruebe una solicitud de inicio de "
                        "sesión, ni por teléfono, ni por SMS, ni por correo electrónico.",
                    ),
                ],
            ),
            (
                "A quién avisar",
                [
                    "Si recibe una llamada o un mensaje de este tipo, o si tiene dudas sobre "
                    "alguno, avísenos a través de su enlace personal. Solo le llevará un "
                    "minuto y no necesita iniciar sesión:",
                    REPORT_BUTTON,
                    "También puede ponerse en contacto con {{ contact_name }}:",
                    CONTACT,
                    "Si ya ha compartido un código o ha aprobado una solicitud que no esperaba, "
                    "avise a {{ contact_name }} de inmediato: actuar rápido marca la diferencia.",
                ],
            ),
        ],
        "button": "Informar de una llamada o un mensaje sospechoso",
        "link_hint": "Si el botón no funciona, copie este enlace en su navegador:",
        "email_label": "Correo electrónico",
        "phone_label": "Teléfono",
        "closing": ["Gracias por su atención.", "{{ account_name }}"],
        "footer": "Recibe este mensaje porque su número de teléfono aparece en los registros "
        "descritos. El enlace para informar es solo suyo: le rogamos que no reenvíe este "
        "correo.",
    },
    "de": {
        "subject": "Sicherheitshinweis von {{ account_name }}: Vorsicht bei Anfragen nach Ihren Anmeldecodes",
        "greeting": "Guten Tag {{ recipient_name }},",
        "intro": [
            "wir möchten Sie über einen Sicherheitsvorfall bei einem Telefonanbieter "
            "informieren, der die SMS und Anrufe zustellt, die {{ account_name }} für die "
            "Mehr-Faktor-Authentifizierung (MFA) verwendet. Sie müssen heute nichts ändern. "
            "Bitte nehmen Sie sich aber zwei Minuten Zeit für diese Nachricht: Sie hilft "
            "Ihnen, einen Betrugsversuch zu erkennen.",
        ],
        "sections": [
            (
                "Was offengelegt wurde",
                [
                    "Ein Angreifer hat die Protokolle der Nachrichten kopiert, die der Anbieter "
                    "zwischen dem {{ exposure_start }} und dem {{ exposure_end }} verschickt hat. "
                    "Zu Ihnen enthalten diese Protokolle:",
                    [
                        "Ihre Telefonnummer (die mit {{ phone_last_digits }} endet), Ihren "
                        "Mobilfunkanbieter und Ihr Land;",
                        "Datum, Uhrzeit und Art (SMS oder Anruf) der Anmeldenachrichten an diese "
                        "Nummer: {{ message_count }} in diesem Zeitraum.",
                    ],
                    "Die Protokolle enthalten nicht den Text der Nachrichten: keine Codes, "
                    "keine Passwörter, nichts, was Sie eingegeben haben.",
                ],
            ),
            (
                "Womit Sie rechnen sollten",
                [
                    "Wer diese Protokolle besitzt, könnte sich bei Ihnen melden und sich als "
                    "unsere IT-Abteilung, der Helpdesk oder der Anbieter unserer Anmeldecodes "
                    "ausgeben, per Anruf, SMS oder E-Mail. Die Person kann überzeugend wirken "
                    "und sogar Ihre Telefonnummer oder die Zeiten nennen, zu denen Sie sich "
                    "tatsächlich angemeldet haben.",
                    "Meist will sie Sie dazu bringen, einen gerade erhaltenen Code vorzulesen "
                    "oder eine Anmeldeanfrage (eine Push-Benachrichtigung) auf Ihrem Telefon "
                    "zu bestätigen.",
                ],
            ),
            (
                "Was Sie tun sollten",
                [
                    [
                        "Geben Sie niemals einen Anmeldecode weiter, ganz gleich, wer danach "
                        "fragt.",
                        "Bestätigen Sie niemals eine Anmeldeanfrage, die Sie nicht selbst "
                        "ausgelöst haben.",
                        "Legen Sie im Zweifel auf oder antworten Sie nicht, und informieren Sie "
                        "uns.",
                    ],
                    (
                        STRONG,
                        "Wir werden Sie niemals nach einem Code fragen oder bitten, eine "
                        "Anmeldeanfrage zu bestätigen, weder am Telefon noch per SMS oder E-Mail.",
                    ),
                ],
            ),
            (
                "Wen Sie informieren",
                [
                    "Wenn Sie einen solchen Anruf oder eine solche Nachricht erhalten oder sich "
                    "unsicher sind, melden Sie es über Ihren persönlichen Link. Das dauert eine "
                    "Minute, eine Anmeldung ist nicht nötig:",
                    REPORT_BUTTON,
                    "Sie können sich auch an {{ contact_name }} wenden:",
                    CONTACT,
                    "Falls Sie bereits einen Code weitergegeben oder eine unerwartete Anfrage "
                    "bestätigt haben, informieren Sie bitte sofort {{ contact_name }}: Schnelles "
                    "Handeln macht den Unterschied.",
                ],
            ),
        ],
        "button": "Verdächtigen Anruf oder verdächtige Nachricht melden",
        "link_hint": "Falls die Schaltfläche nicht funktioniert, kopieren Sie diesen Link in "
        "Ihren Browser:",
        "email_label": "E-Mail",
        "phone_label": "Telefon",
        "closing": ["Vielen Dank für Ihre Aufmerksamkeit.", "{{ account_name }}"],
        "footer": "Sie erhalten diese Nachricht, weil Ihre Telefonnummer in den oben "
        "beschriebenen Protokollen vorkommt. Der Meldelink gilt nur für Sie: Bitte leiten "
        "Sie diese E-Mail nicht weiter.",
    },
}


def _french_spacing(text: str) -> str:
    # French sets a (no-break) space before ":", ";", "?" and "!"; a no-break one keeps
    # the mark from starting a line on a narrow screen.
    for mark in (":", ";", "?", "!"):
        text = text.replace(f" {mark}", f"\u00a0{mark}")
    return text


def _words(language: str, text: str) -> str:
    return _french_spacing(text) if language == "fr" else text


def _label(language: str, name: str) -> str:
    return _words(language, f"{name} :" if language == "fr" else f"{name}:")


def body_text(language: str, notice: dict) -> str:
    w = lambda text: _words(language, text)  # noqa: E731
    parts = [w(notice["greeting"]), *(w(p) for p in notice["intro"])]
    for heading, blocks in notice["sections"]:
        # Capitals mark a heading where there is no markup.
        section = [w(heading).upper()]
        for block in blocks:
            if block == REPORT_BUTTON:
                section.append("{{ report_link }}")
            elif block == CONTACT:
                section.append(
                    f"{_label(language, notice['email_label'])} {{{{ contact_email }}}}\n"
                    f"{_label(language, notice['phone_label'])} {{{{ contact_phone }}}}"
                )
            elif isinstance(block, list):
                section.append("\n".join(f"- {w(item)}" for item in block))
            elif isinstance(block, tuple):
                section.append(w(block[1]))
            else:
                section.append(w(block))
        # The heading sits right above its first paragraph.
        parts.append(section[0] + "\n" + "\n\n".join(section[1:]))
    parts.append("\n".join(w(line) for line in notice["closing"]))
    parts.append("--\n" + w(notice["footer"]))
    return "\n\n".join(parts) + "\n"


# Inline styles only, and tables for the layout: many mail clients drop <style>
# blocks and ignore flexbox. One column, at most 600 pixels wide.
_FONT = "font-family:Arial,Helvetica,sans-serif;"
_P = "margin:0 0 16px 0;"
_BLUE = "#0b5394"


def _h(language: str, text: str) -> str:
    # Our own words, escaped for HTML; placeholders contain nothing to escape.
    return escape(_words(language, text), quote=False)


def body_html(language: str, notice: dict) -> str:
    h = lambda text: _h(language, text)  # noqa: E731
    label = lambda name: escape(_label(language, name), quote=False)  # noqa: E731
    rows = [f'<p style="{_P}">{h(notice["greeting"])}</p>']
    rows += [f'<p style="{_P}">{h(paragraph)}</p>' for paragraph in notice["intro"]]
    for heading, blocks in notice["sections"]:
        rows.append(
            f'<h2 style="margin:28px 0 10px 0;font-size:18px;line-height:1.3;color:#1f2328;">'
            f"{h(heading)}</h2>"
        )
        for block in blocks:
            if block == REPORT_BUTTON:
                rows.append(
                    '<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
                    'style="margin:4px 0 12px 0;"><tr>'
                    f'<td style="border-radius:6px;background-color:{_BLUE};">'
                    '<a href="{{ report_link }}" style="display:inline-block;padding:12px 22px;'
                    f"{_FONT}font-size:16px;font-weight:bold;color:#ffffff;text-decoration:none;"
                    f'border-radius:6px;">{h(notice["button"])}</a>'
                    "</td></tr></table>"
                    f'<p style="margin:0 0 20px 0;font-size:13px;color:#57606a;">{h(notice["link_hint"])}<br>'
                    f'<a href="{{{{ report_link }}}}" style="color:{_BLUE};word-break:break-all;">'
                    "{{ report_link }}</a></p>"
                )
            elif block == CONTACT:
                rows.append(
                    f'<p style="{_P}padding:10px 14px;background-color:#f6f8fa;border-left:3px solid {_BLUE};">'
                    f"{label(notice['email_label'])} "
                    f'<a href="mailto:{{{{ contact_email }}}}" style="color:{_BLUE};">'
                    "{{ contact_email }}</a><br>"
                    f"{label(notice['phone_label'])} {{{{ contact_phone }}}}</p>"
                )
            elif isinstance(block, tuple):
                rows.append(f'<p style="{_P}"><strong>{h(block[1])}</strong></p>')
            elif isinstance(block, list):
                items = "".join(f'<li style="margin:0 0 6px 0;">{h(item)}</li>' for item in block)
                rows.append(f'<ul style="margin:0 0 16px 0;padding-left:22px;">{items}</ul>')
            else:
                rows.append(f'<p style="{_P}">{h(block)}</p>')
    closing = "<br>".join(h(line) for line in notice["closing"])
    rows.append(f'<p style="margin:24px 0 0 0;">{closing}</p>')
    content = "\n".join(rows)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{h(notice['subject'])}</title>\n</head>\n"
        '<body style="margin:0;padding:0;background-color:#f3f4f6;">\n'
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        'style="background-color:#f3f4f6;"><tr><td align="center" style="padding:24px 12px;">\n'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" border="0" '
        'style="width:100%;max-width:600px;background-color:#ffffff;border:1px solid #d0d7de;'
        'border-radius:8px;"><tr>\n'
        f'<td style="padding:28px 32px;{_FONT}font-size:16px;line-height:1.55;color:#1f2328;">\n'
        f"{content}\n"
        "</td></tr></table>\n"
        f'<p style="max-width:600px;margin:16px auto 0 auto;{_FONT}font-size:12px;'
        f'line-height:1.5;color:#6e7781;">{h(notice["footer"])}</p>\n'
        "</td></tr></table>\n</body>\n</html>\n"
    )


def defaults_create(apps, schema_editor):
    NoticeTemplate = apps.get_model("notifications", "NoticeTemplate")
    for language, notice in NOTICES.items():
        # An operator who already made one by hand keeps theirs.
        if NoticeTemplate.objects.filter(
            organization__isnull=True, name=NAME, language=language
        ).exists():
            continue
        NoticeTemplate.objects.create(
            organization=None,
            name=NAME,
            language=language,
            subject=_words(language, notice["subject"]),
            body_text=body_text(language, notice),
            body_html=body_html(language, notice),
        )


def defaults_delete(apps, schema_editor):
    NoticeTemplate = apps.get_model("notifications", "NoticeTemplate")
    NoticeTemplate.objects.filter(
        organization__isnull=True, name=NAME, language__in=list(NOTICES)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0002_campaign_progress_report_triage_scheduled_email"),
    ]

    operations = [
        migrations.RunPython(defaults_create, defaults_delete),
    ]
