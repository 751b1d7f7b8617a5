"""The French catalogue, keyed by the English text (a template keeps its `{parameters}`).

Written for Mali's storekeepers, partners and the cluster ("Abris/BNA"): short, plain,
administrative French. A new title must be added here: tests/unit/test_i18n.py collects every
problem title in the code and fails on one without French.
"""

from __future__ import annotations

from collections.abc import Mapping

# Said by every service while its store cannot be reached (web/problems.py).
STORE_UNAVAILABLE_DETAIL = (
    "The store cannot be reached at the moment. Retry with the same Idempotency-Key: a change "
    "already applied is not applied twice."
)

# Problem titles: every one the services and the gateway answer with, and the HTTP status
# phrases Starlette's own errors carry (404 for an unknown path, 405, ...).
TITLES_FR: Mapping[str, str] = {
    "Conflict": "Conflit",
    "File not importable": "Fichier non importable",
    "Forbidden": "Interdit",
    "Idempotency-Key reused": "Idempotency-Key déjà utilisée",
    "Internal error": "Erreur interne",
    "Invalid request": "Requête invalide",
    "Invalid token request": "Demande de jeton invalide",
    "No row could be imported": "Aucune ligne n'a pu être importée",
    "Not enough stock": "Stock insuffisant",
    "Not a KoboToolbox submission": "Pas une soumission KoboToolbox",
    "Not found": "Introuvable",
    "Not ready": "Pas prêt",
    "Request in progress": "Requête en cours",
    "Request too large": "Requête trop volumineuse",
    "Service timed out": "Le service n'a pas répondu à temps",
    "Service unavailable": "Service indisponible",
    "Sign-in refused": "Connexion refusée",
    "Store unavailable": "Stockage indisponible",
    "Submission not turned into a need": "Soumission non transformée en besoin",
    "Too busy": "Service surchargé",
    "Too many requests": "Trop de requêtes",
    "Too many sign-in attempts": "Trop de tentatives de connexion",
    "Unauthenticated": "Non authentifié",
    "Unsupported grant type": "Type d'autorisation non pris en charge",
    "Unsupported media type": "Type de contenu non pris en charge",
    "Error": "Erreur",
    # http.HTTPStatus phrases, 4xx and 5xx
    "Bad Request": "Requête incorrecte",
    "Unauthorized": "Non autorisé",
    "Payment Required": "Paiement requis",
    "Not Found": "Introuvable",
    "Method Not Allowed": "Méthode non autorisée",
    "Not Acceptable": "Format de réponse non disponible",
    "Proxy Authentication Required": "Authentification du proxy requise",
    "Request Timeout": "Délai de la requête dépassé",
    "Gone": "N'existe plus",
    "Length Required": "Longueur requise",
    "Precondition Failed": "Condition préalable non remplie",
    "Request Entity Too Large": "Requête trop volumineuse",
    "Request-URI Too Long": "Adresse trop longue",
    "Unsupported Media Type": "Type de contenu non pris en charge",
    "Requested Range Not Satisfiable": "Plage demandée non disponible",
    "Expectation Failed": "Attente non satisfaite",
    "I'm a Teapot": "Je suis une théière",
    "Misdirected Request": "Requête mal dirigée",
    "Unprocessable Entity": "Requête invalide",
    "Unprocessable Content": "Requête invalide",
    "Content Too Large": "Requête trop volumineuse",
    "Range Not Satisfiable": "Plage demandée non disponible",
    "URI Too Long": "Adresse trop longue",
    "Locked": "Verrouillé",
    "Failed Dependency": "Dépendance en échec",
    "Too Early": "Trop tôt",
    "Upgrade Required": "Mise à niveau requise",
    "Precondition Required": "Condition préalable requise",
    "Too Many Requests": "Trop de requêtes",
    "Request Header Fields Too Large": "En-têtes de requête trop volumineux",
    "Unavailable For Legal Reasons": "Indisponible pour raisons juridiques",
    "Internal Server Error": "Erreur interne du serveur",
    "Not Implemented": "Non implémenté",
    "Bad Gateway": "Mauvaise passerelle",
    "Service Unavailable": "Service indisponible",
    "Gateway Timeout": "Délai de la passerelle dépassé",
    "HTTP Version Not Supported": "Version HTTP non prise en charge",
    "Variant Also Negotiates": "Négociation de variante en boucle",
    "Insufficient Storage": "Espace de stockage insuffisant",
    "Loop Detected": "Boucle détectée",
    "Not Extended": "Extension requise",
    "Network Authentication Required": "Authentification réseau requise",
}

# Details and field reasons that read the same every time, and templates of the common ones.
DETAILS_FR: Mapping[str, str] = {
    # shared
    "The request is invalid.": "La requête est invalide.",
    "The request could not be completed. Quote the correlation id to an operator.": (
        "La requête n'a pas pu aboutir. Communiquez l'identifiant de corrélation à un opérateur."
    ),
    STORE_UNAVAILABLE_DETAIL: (
        "Le stockage ne répond pas pour l'instant. Réessayez avec la même Idempotency-Key : une "
        "modification déjà faite ne l'est pas deux fois."
    ),
    "Dependencies not answering: {failing}": "Dépendances qui ne répondent pas : {failing}",
    "Requests must come through the gateway (missing {header}).": (
        "Les requêtes doivent passer par la passerelle ({header} manquant)."
    ),
    "The caller's identity is not valid: {reason}": "L'identité de l'appelant n'est pas valide : "
    "{reason}",
    "already used with a different request": "déjà utilisée pour une autre requête",
    "already taken": "déjà pris",
    "already recorded": "déjà enregistré",
    "already recorded in this warehouse": "déjà enregistré dans cet entrepôt",
    "must not be blank": "ne doit pas être vide",
    "must be greater than 0": "doit être supérieur à 0",
    "must be at least 1": "doit être au moins 1",
    "must not contain control characters (found U+{code})": (
        "ne doit pas contenir de caractères de contrôle (U+{code} trouvé)"
    ),
    # gateway
    "Send a valid API key in X-API-Key, or a valid access token in Authorization: Bearer.": (
        "Envoyez une clé d'API valide dans X-API-Key, ou un jeton d'accès valide dans "
        "Authorization: Bearer."
    ),
    "send the body as application/json": "envoyez le corps en application/json",
    "This needs one of the roles: {roles}.": "Il faut l'un de ces rôles : {roles}.",
    "no warehouse {code}": "aucun entrepôt {code}",
    "A request with this Idempotency-Key is still being processed; retry shortly.": (
        "Une requête avec cette Idempotency-Key est encore en cours ; réessayez dans un instant."
    ),
    "This Idempotency-Key was used for a different request; use a new key.": (
        "Cette Idempotency-Key a servi à une autre requête ; utilisez une nouvelle clé."
    ),
    "The {service} service did not answer in time; the request may or may not have been "
    "applied. Retry with the same Idempotency-Key to be safe.": (
        "Le service {service} n'a pas répondu à temps ; la requête a pu être appliquée ou non. "
        "Réessayez avec la même Idempotency-Key par sécurité."
    ),
    "The {service} service cannot be reached; retry later.": (
        "Le service {service} est injoignable ; réessayez plus tard."
    ),
    "Organisation {organisation} sent more than {limit} requests in this window; retry in "
    "{seconds} s.": (
        "L'organisation {organisation} a envoyé plus de {limit} requêtes dans cette période ; "
        "réessayez dans {seconds} s."
    ),
    "Too many attempts {whose}; retry in {seconds} s.": (
        "Trop de tentatives {whose} ; réessayez dans {seconds} s."
    ),
    "wrong user name or password": "nom d'utilisateur ou mot de passe incorrect",
    "only grant_type=password is supported": "seul grant_type=password est pris en charge",
    "The request body is larger than {limit} bytes.": (
        "Le corps de la requête dépasse {limit} octets."
    ),
    # stock (the sentences of today's errors, and of their templates in kitflow_shared.errors)
    "{warehouse} has {available} {item} available, {requested} requested": (
        "{warehouse} a {available} {item} disponible(s), {requested} demandé(s)"
    ),
    "no warehouse with code {code}": "aucun entrepôt avec le code {code}",
    "a warehouse with code {code} already exists": "un entrepôt avec le code {code} existe déjà",
    "not in the catalogue: {codes}": "absent du catalogue : {codes}",
    "{code} is not in the catalogue": "{code} n'est pas au catalogue",
    "document number {number} is already recorded (movement {movement})": (
        "le numéro de document {number} est déjà enregistré (mouvement {movement})"
    ),
    "no movement {movement_id} in {warehouse}": "aucun mouvement {movement_id} à {warehouse}",
    "{fields}: cannot be cleared": "{fields} : ne peut pas être effacé",
    # needs
    "send the file as text/csv or as an XLSX workbook, not {content_type}": (
        "envoyez le fichier en text/csv ou en classeur XLSX, pas en {content_type}"
    ),
    "required column missing": "colonne obligatoire manquante",
    "{reason}; nothing was imported": "{reason} ; rien n'a été importé",
    "the file is empty": "le fichier est vide",
    "the file is larger than {size} MB": "le fichier dépasse {size} Mo",
    "missing required HXL columns: {columns}": "colonnes HXL obligatoires manquantes : {columns}",
    "not a readable CSV or XLSX file: {error}": "fichier CSV ou XLSX illisible : {error}",
    # needs: what a partner's form or file is refused for (the longer template of a sentence
    # first: templates are matched in this order)
    "unknown item or kit code {code}; did you mean {codes}?": (
        "code d'article ou de kit inconnu {code} ; vouliez-vous dire {codes} ?"
    ),
    "unknown item or kit code {code}": "code d'article ou de kit inconnu {code}",
    "{households} households cannot hold only {individuals} individuals: a household has at "
    "least one member": (
        "{households} ménages ne peuvent compter seulement {individuals} personnes : un ménage "
        "compte au moins une personne"
    ),
    "a need concerns at least one household": "un besoin concerne au moins un ménage",
    "a need concerns at least one person": "un besoin concerne au moins une personne",
    "{value} is more than the {individuals} individuals": (
        "{value} dépasse le nombre de personnes ({individuals})"
    ),
    "must not be negative": "ne doit pas être négatif",
    "must not be blank when given": "ne doit pas être vide s'il est donné",
    "must be between 1 and {most}": "doit être compris entre 1 et {most}",
    "at most {most}": "au plus {most}",
    "{value} is not between {earliest} and {latest}": (
        "{value} n'est pas compris entre {earliest} et {latest}"
    ),
    "{end} is before the start {start}": "{end} est antérieure au début {start}",
    "is required": "est obligatoire",
    "no quantity for {code}": "aucune quantité pour {code}",
    "{code} is listed twice": "{code} figure deux fois",
    "give the displacement status (idp, returnee or host-community) in a #beneficiary+type "
    "column": (
        "indiquez le statut de déplacement (idp, returnee ou host-community) dans une colonne "
        "#beneficiary+type"
    ),
    "the row could not be read": "la ligne n'a pas pu être lue",
    # distribution: a delivery beyond what the need's assessment targeted
    "need {need} would have {households} households and {individuals} people reached (all "
    "plans), more than the {target_households} and {target_individuals} targeted: say why in a "
    "note": (
        "le besoin {need} aurait {households} ménages et {individuals} personnes atteints (tous "
        "plans confondus), plus que les {target_households} ménages et {target_individuals} "
        "personnes ciblés : dites pourquoi dans une note"
    ),
    # needs: the gazetteer's commonest refusals (a P-code mistyped in a form or a file)
    "unknown admin1 P-code {code}; the regions of {vintage} are {codes}": (
        "P-code de région {code} inconnu ; les régions de {vintage} sont {codes}"
    ),
    "unknown admin2 P-code {code} in {region} ({admin1}); its cercles are {cercles}": (
        "P-code de cercle {code} inconnu dans la région de {region} ({admin1}) ; ses cercles "
        "sont {cercles}"
    ),
    "{code} is not inside {admin2}: an admin3 P-code starts with its admin2 P-code": (
        "{code} n'est pas dans {admin2} : le P-code d'une commune commence par celui de son cercle"
    ),
    "{code} is not an admin3 P-code: ML followed by 6 digits, e.g. ML050101": (
        "{code} n'est pas un P-code de commune : ML suivi de 6 chiffres, par ex. ML050101"
    ),
    # needs: KoboToolbox and DTM intake
    "the submission {uuid} is kept as refused; fix the mapping or its values and resubmit it": (
        "la soumission {uuid} est conservée comme refusée ; corrigez la correspondance ou ses "
        "valeurs et soumettez-la à nouveau"
    ),
    "expected a KoboToolbox submission in JSON, with its `_uuid` (a string)": (
        "une soumission KoboToolbox en JSON est attendue, avec son `_uuid` (un texte)"
    ),
    "no KoboToolbox submission {uuid!r} of your organisation": (
        "aucune soumission KoboToolbox {uuid!r} de votre organisation"
    ),
}

# Pydantic's validation errors by their `type`, filled in from the error's `ctx`. Pydantic's
# English templates carry plural endings computed at run time; French says "(s)".
PYDANTIC_FR: Mapping[str, str] = {
    "missing": "Champ obligatoire",
    "extra_forbidden": "Champ non autorisé",
    "json_invalid": "JSON invalide : {error}",
    "json_type": "JSON attendu",
    "model_type": "Un objet est attendu",
    "model_attributes_type": "Un objet est attendu",
    "dict_type": "Un objet est attendu",
    "list_type": "Une liste est attendue",
    "string_type": "Une chaîne de caractères est attendue",
    "string_unicode": "Une chaîne de caractères valide est attendue",
    "string_too_short": "Doit comporter au moins {min_length} caractère(s)",
    "string_too_long": "Doit comporter au plus {max_length} caractère(s)",
    "string_pattern_mismatch": "Doit correspondre au motif '{pattern}'",
    "too_short": "Doit comporter au moins {min_length} élément(s), pas {actual_length}",
    "too_long": "Doit comporter au plus {max_length} élément(s)",
    "greater_than": "Doit être supérieur à {gt}",
    "greater_than_equal": "Doit être supérieur ou égal à {ge}",
    "less_than": "Doit être inférieur à {lt}",
    "less_than_equal": "Doit être inférieur ou égal à {le}",
    "multiple_of": "Doit être un multiple de {multiple_of}",
    "finite_number": "Doit être un nombre fini",
    "int_type": "Un nombre entier est attendu",
    "int_parsing": "Un nombre entier est attendu",
    "int_from_float": "Un nombre entier est attendu, sans partie décimale",
    "float_type": "Un nombre est attendu",
    "float_parsing": "Un nombre est attendu",
    "bool_type": "Un booléen est attendu",
    "bool_parsing": "Un booléen est attendu (true ou false)",
    "enum": "Doit être {expected}",
    "literal_error": "Doit être {expected}",
    "date_type": "Une date est attendue",
    "date_parsing": "Une date au format AAAA-MM-JJ est attendue",
    "date_from_datetime_parsing": "Une date au format AAAA-MM-JJ est attendue",
    "date_from_datetime_inexact": "Une date sans heure est attendue",
    "datetime_type": "Une date et heure est attendue",
    "datetime_parsing": "Une date et heure au format ISO 8601 est attendue",
    "datetime_from_date_parsing": "Une date et heure au format ISO 8601 est attendue",
    "timezone_aware": "Le fuseau horaire est obligatoire",
    "timezone_naive": "Le fuseau horaire n'est pas autorisé",
    "url_parsing": "Une URL valide est attendue",
    "uuid_parsing": "Un UUID valide est attendu",
    "value_error": "Valeur invalide : {error}",
    "assertion_error": "Valeur invalide : {error}",
}

# Printed documents (goods-received notes, waybills, transfer notes, movement slips).
DOCUMENTS_FR: Mapping[str, str] = {
    "Goods received note": "Bon de réception",
    "Waybill": "Lettre de transport",
    "Transfer note (out)": "Bordereau de transfert (sortie)",
    "Transfer note (in)": "Bordereau de transfert (entrée)",
    "Stock adjustment slip": "Fiche d'ajustement de stock",
    "Kit assembly slip": "Fiche d'assemblage de kits",
    "Kit breakdown slip": "Fiche de décomposition de kits",
    "Reversal slip": "Fiche d'annulation de mouvement",
    "Document number": "Numéro du document",
    "Movement": "Mouvement",
    "Organisation": "Organisation",
    "Warehouse": "Entrepôt",
    "Date": "Date",
    "Received from": "Reçu de",
    "Destination": "Destination",
    "To warehouse": "Entrepôt de destination",
    "From warehouse": "Entrepôt d'origine",
    "Reason": "Motif",
    "Note": "Note",
    "Recorded by": "Enregistré par",
    "Item code": "Code article",
    "Item": "Article",
    "Lot": "Lot",
    "Expiry": "Péremption",
    "Quantity": "Quantité",
    "Unit": "Unité",
    "Damaged": "Endommagé",
    "Missing": "Manquant",
    "Storekeeper": "Magasinier",
    "Driver": "Chauffeur",
    "Receiver": "Réceptionnaire",
    "Name": "Nom",
    "Signature": "Signature",
    "Quantities received and any damage or loss": (
        "Quantités reçues et dommages ou pertes éventuels"
    ),
    "Page {page}": "Page {page}",
    "lost": "perte",
    "damaged": "avarie",
    "expired": "péremption",
    "found": "découverte",
    "count-correction": "correction d'inventaire",
}

FR: Mapping[str, str] = {**TITLES_FR, **DETAILS_FR, **DOCUMENTS_FR}
