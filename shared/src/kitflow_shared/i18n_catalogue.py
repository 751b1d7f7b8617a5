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

# Refusals of commands and fields, by service: what a storekeeper, partner or coordinator
# reads when the API says no (tests/unit/shared/test_i18n.py finds every one in the code).
# A piece added to a sentence (a hint, a suggestion) has its own entry and is translated on
# its own; in French it stays where the English put it.
REFUSALS_FR: Mapping[str, str] = {
    # shared words of many refusals
    "must be in the future": "doit être dans le futur",
    "cannot be in the future": "ne peut pas être dans le futur",
    "must not be 0": "ne doit pas être 0",
    "must be > 0": "doit être > 0",
    "must be >= 0": "doit être >= 0",
    "must be 1 to 5": "doit être entre 1 et 5",
    "quantities must not be negative": "les quantités ne doivent pas être négatives",
    "at least one line is needed": "il faut au moins une ligne",
    "the change cannot be stored: {exc}": "la modification ne peut pas être enregistrée : {exc}",
    # stock
    "only the warehouse's staff (or an admin) record its movements": (
        "seul le personnel de l'entrepôt (ou un administrateur) enregistre ses mouvements"
    ),
    "{code} is not active": "{code} n'est pas actif",
    "a receipt needs its goods-received-note number": (
        "une réception demande son numéro de bon de réception (GRN)"
    ),
    "a dispatch needs its waybill number": (
        "une expédition demande son numéro de lettre de transport"
    ),
    "a transfer needs its waybill number": "un transfert demande son numéro de lettre de transport",
    "{kit} is an item, not a kit": "{kit} est un article, pas un kit",
    "only coordinators of {organisation} (or an admin) reserve or release the stock of {code}": (
        "seuls les coordinateurs de {organisation} (ou un administrateur) réservent ou libèrent "
        "le stock de {code}"
    ),
    "must be within {days} days (by {date})": (
        "doit être dans les {days} jours (au plus tard le {date})"
    ),
    "only an admin registers a warehouse for another organisation": (
        "seul un administrateur enregistre un entrepôt pour une autre organisation"
    ),
    "only the owning organisation or an admin changes a warehouse": (
        "seuls l'organisation propriétaire ou un administrateur modifient un entrepôt"
    ),
    "only an admin transfers a warehouse to another organisation": (
        "seul un administrateur cède un entrepôt à une autre organisation"
    ),
    "only an admin changes the catalogue": "seul un administrateur modifie le catalogue",
    "item {code} kept changing; try again": "l'article {code} changeait sans cesse ; réessayez",
    "warehouse {code} kept changing; try again": (
        "l'entrepôt {code} changeait sans cesse ; réessayez"
    ),
    "the stock of {warehouse} kept changing; try again": (
        "le stock de {warehouse} changeait sans cesse ; réessayez"
    ),
    "item {code} changed meanwhile": "l'article {code} a changé entre-temps",
    "warehouse {code} changed meanwhile": "l'entrepôt {code} a changé entre-temps",
    "the stock of {warehouse} changed meanwhile": "le stock de {warehouse} a changé entre-temps",
    "a count was started by this request meanwhile": (
        "un inventaire a été commencé entre-temps par cette requête"
    ),
    "count {count_id} is no draft any more: it is (being) submitted": (
        "l'inventaire {count_id} n'est plus un brouillon : il est (en cours d'être) soumis"
    ),
    "{admin2} is not inside {admin1}: an admin2 P-code starts with its admin1 P-code": (
        "{admin2} n'est pas dans {admin1} : le P-code d'un cercle commence par celui de sa région"
    ),
    "{code} is a component of {kits}; a component cannot become a kit": (
        "{code} est un composant de {kits} ; un composant ne peut pas devenir un kit"
    ),
    "use capital letters, digits and hyphens (max 64)": (
        "utilisez des majuscules, des chiffres et des tirets (64 au plus)"
    ),
    "{item} is a kit; a kit's components must be plain items": (
        "{item} est un kit ; les composants d'un kit doivent être des articles simples"
    ),
    "a kit cannot contain itself": "un kit ne peut pas se contenir lui-même",
    "a {reason} adjustment must be {direction}": "un ajustement « {reason} » doit être {direction}",
    "a transfer goes to another warehouse": "un transfert va vers un autre entrepôt",
    "no transfer {transfer_id} is on its way to {warehouse}": (
        "aucun transfert {transfer_id} n'est en route vers {warehouse}"
    ),
    "transfer {transfer_id} was already received": "le transfert {transfer_id} a déjà été reçu",
    "movement {movement} was already reversed by {documents}": (
        "le mouvement {movement} a déjà été annulé par {documents}"
    ),
    "a {kind} movement cannot be reversed: record a new movement instead": (
        "un mouvement de type {kind} ne s'annule pas : enregistrez plutôt un nouveau mouvement"
    ),
    "reservation {line_id} is {state}, not active": (
        "la réservation {line_id} est {state}, pas active"
    ),
    "only {quantity} are reserved": "seulement {quantity} sont réservés",
    "{kit} has no bill of materials": "{kit} n'a pas de nomenclature",
    "{item} lot {lot} counted twice": "{item} lot {lot} compté deux fois",
    "{item} lot {lot} was not sent": "{item} lot {lot} n'a pas été envoyé",
    "{item} lot {lot} listed twice": "{item} lot {lot} figure deux fois",
    "{value} received and damaged, but only {quantity} {item} were sent": (
        "{value} reçus et endommagés, mais seulement {quantity} {item} ont été envoyés"
    ),
    "{count} {kit} hold {value} {item}: more than the {most} one movement line may carry": (
        "{count} {kit} contiennent {value} {item} : plus que les {most} qu'une ligne de "
        "mouvement peut porter"
    ),
    # needs
    "only {organisation} {what} this need": "seule l'organisation {organisation} {what} ce besoin",
    "only a coordinator {what}": "seul un coordinateur {what}",
    "changes": "modifie",
    "submits": "soumet",
    "cancels": "annule",
    "validates needs": "valide les besoins",
    "rejects needs": "rejette les besoins",
    "decides on duplicates": "tranche sur les doublons",
    "merges duplicates": "fusionne les doublons",
    "need {need_id} kept changing; try again": (
        "le besoin {need_id} changeait sans cesse ; réessayez"
    ),
    "need {need_id} kept changing": "le besoin {need_id} changeait sans cesse",
    "need {need_id} kept changing while applying coverage": (
        "le besoin {need_id} changeait sans cesse pendant la mise à jour de sa couverture"
    ),
    "need {need_id} changed meanwhile": "le besoin {need_id} a changé entre-temps",
    "coverage of need {need_id} names {organisation}, but the need belongs to {owner}": (
        "la couverture du besoin {need_id} nomme {organisation}, mais le besoin appartient à "
        "{owner}"
    ),
    "only an admin manages norms profiles": "seul un administrateur gère les profils de normes",
    "unknown norms profile {profile_id}; known: {known}": (
        "profil de normes inconnu {profile_id} ; profils connus : {known}"
    ),
    "only meaningful with a profile": "n'a de sens qu'avec un profil",
    "only meaningful with a norms profile": "n'a de sens qu'avec un profil de normes",
    "must be {profile_id}, the profile in the path": "doit être {profile_id}, le profil du chemin",
    "no items to import: add #item+code and #item+num columns, a #meta+norms column, or name a "
    "norms profile with ?profile=": (
        "aucun article à importer : ajoutez des colonnes #item+code et #item+num, une colonne "
        "#meta+norms, ou nommez un profil de normes avec ?profile="
    ),
    "could not be resolved": "n'a pas pu être résolu",
    "it was delivered": "il a été livré",
    "need {need_id} is not flagged as a duplicate of {other_id}": (
        "le besoin {need_id} n'est pas signalé comme doublon de {other_id}"
    ),
    "merged into another need": "fusionné dans un autre besoin",
    "coverage has started on it; merge the other way round": (
        "sa couverture a commencé ; fusionnez dans l'autre sens"
    ),
    "women, men, girls and boys add up to {total}, more than the {individuals} individuals": (
        "femmes, hommes, filles et garçons font {total}, plus que les {individuals} personnes"
    ),
    "an empty need: give items with quantities, or a norms profile that computes some from the "
    "population": (
        "un besoin vide : donnez des articles avec leurs quantités, ou un profil de normes qui "
        "les calcule à partir de la population"
    ),
    "choose at least one rule, or leave rules out to apply them all": (
        "choisissez au moins une règle, ou n'en donnez aucune pour les appliquer toutes"
    ),
    "{profile_id} has no rule for {code}; its rules: {rules}": (
        "{profile_id} n'a pas de règle pour {code} ; ses règles : {rules}"
    ),
    "for {count} {basis}, the rule for {item_code} gives {quantity} items, more than the {most} a "
    "need may ask for": (
        "pour {count} {basis}, la règle de {item_code} donne {quantity} articles, plus que les "
        "{most} qu'un besoin peut demander"
    ),
    "households": "ménages",
    "individuals": "personnes",
    "2-64 lower-case letters, digits and hyphens (e.g. sphere-minimum)": (
        "2 à 64 minuscules, chiffres et tirets (par ex. sphere-minimum)"
    ),
    "a profile needs at least one rule": "un profil demande au moins une règle",
    "{item_code} has two rules": "{item_code} a deux règles",
    "between 1 and {most}, or null for once": "entre 1 et {most}, ou null pour une seule fois",
    "norms profile {profile_id} is no longer at version {version}": (
        "le profil de normes {profile_id} n'est plus à la version {version}"
    ),
    "an HXL hashtag starts with '#', not {tag}": "un hashtag HXL commence par « # », pas {tag}",
    "a KoboToolbox submission carries its `_uuid` (a string)": (
        "une soumission KoboToolbox porte son `_uuid` (un texte)"
    ),
    "the submission gives no need": "la soumission ne donne aucun besoin",
    "{reason}: map the form's questions to HXL hashtags (PUT /v1/integrations/kobo/mapping) or "
    "name them by their hashtags": (
        "{reason} : faites correspondre les questions du formulaire à des hashtags HXL "
        "(PUT /v1/integrations/kobo/mapping) ou nommez-les par leurs hashtags"
    ),
    "a DTM dataset needs #adm1+code, #adm2+code, #date+reported and, for IDPs or returnees, "
    "households and individuals (#affected+idps+hh and #affected+idps+ind, or "
    "#affected+returnees+hh and #affected+returnees+ind)": (
        "un jeu de données DTM demande #adm1+code, #adm2+code, #date+reported et, pour les PDI "
        "ou les retournés, les ménages et les personnes (#affected+idps+hh et "
        "#affected+idps+ind, ou #affected+returnees+hh et #affected+returnees+ind)"
    ),
    "the DTM dataset has no row with IDP or returnee figures": (
        "le jeu de données DTM n'a aucune ligne de chiffres de PDI ou de retournés"
    ),
    "not an HXL file: expected a DTM dataset with HXL hashtags (#adm2+code, #affected+idps+hh, "
    "...)": (
        "pas un fichier HXL : un jeu de données DTM avec des hashtags HXL est attendu "
        "(#adm2+code, #affected+idps+hh, ...)"
    ),
    "{codes} #item+code columns but {quantities} #item+num columns: each item code needs its "
    "quantity column": (
        "{codes} colonnes #item+code mais {quantities} colonnes #item+num : chaque code "
        "d'article demande sa colonne de quantité"
    ),
    "not an HXL file: no row of HXL hashtags (such as #adm1+code) in its first 25 rows": (
        "pas un fichier HXL : aucune ligne de hashtags HXL (comme #adm1+code) dans ses 25 "
        "premières lignes"
    ),
    "give both #geo+lat and #geo+lon": "donnez à la fois #geo+lat et #geo+lon",
    "this row is for {org}; an import is for the caller's own organisation ({organisation})": (
        "cette ligne est pour {org} ; un import concerne l'organisation de l'appelant "
        "({organisation})"
    ),
    "a quantity without an item code": "une quantité sans code d'article",
    "{lat}, {lon} are not coordinates": "{lat}, {lon} ne sont pas des coordonnées",
    "the #meta+id {ref} is used by row {row} too, with other values: one #meta+id is one need": (
        "le #meta+id {ref} sert aussi à la ligne {row}, avec d'autres valeurs : un #meta+id est "
        "un besoin"
    ),
    # needs: the gazetteer (a sentence, then the hints added to it)
    "unknown P-code vintage {vintage}; known: {known}": (
        "millésime de P-codes inconnu {vintage} ; connus : {known}"
    ),
    "{code} is an ISO 3166-2 code{what}, not an OCHA P-code: ISO ML-9 is Ménaka while the "
    "P-code ML09 is Bamako{hint}": (
        "{code} est un code ISO 3166-2{what}, pas un P-code OCHA : ISO ML-9 est Ménaka alors "
        "que le P-code ML09 est Bamako{hint}"
    ),
    " (ISO's code for {name})": " (le code ISO de {name})",
    "{code} is written in the ISO3 style (MLI..); this service uses the COD-AB form ML + 2 "
    "digits{hint}": (
        "{code} est écrit à la manière ISO3 (MLI..) ; ce service utilise la forme COD-AB ML + "
        "2 chiffres{hint}"
    ),
    ", e.g. {code}": ", par ex. {code}",
    "{code} is not an admin1 P-code: ML followed by 2 digits, e.g. ML05 for Mopti{hint}": (
        "{code} n'est pas un P-code de région : ML suivi de 2 chiffres, par ex. ML05 pour "
        "Mopti{hint}"
    ),
    "{code} ({name}) is a region of {other}, not of this gazetteer's vintage ({vintage}){hint}"
    "{declare}": (
        "{code} ({name}) est une région de {other}, pas du millésime de ce gazetteer "
        "({vintage}){hint}{declare}"
    ),
    "{code} is {name}, not {given}{suggestion}{other}": (
        "{code} est {name}, pas {given}{suggestion}{other}"
    ),
    " (no region called {name} in the gazetteer)": (
        " (aucune région nommée {name} dans le gazetteer)"
    ),
    " (no cercle called {name} in the gazetteer)": " (aucun cercle nommé {name} dans le gazetteer)",
    "{code} ({name}) is a P-code of {other}{where}{declare}": (
        "{code} ({name}) est un P-code de {other}{where}{declare}"
    ),
    "; in this gazetteer's vintage ({vintage}) {name} is {pcode}": (
        " ; dans le millésime de ce gazetteer ({vintage}), {name} est {pcode}"
    ),
    "{code} is not an admin2 P-code of {vintage}: ML followed by 4 digits, e.g. ML0501 for "
    "Mopti{hint}": (
        "{code} n'est pas un P-code de cercle de {vintage} : ML suivi de 4 chiffres, par ex. "
        "ML0501 pour Mopti{hint}"
    ),
    "{code} is not an admin2 P-code: ML followed by 4 digits, e.g. ML0501 for the cercle of "
    "Mopti{hint}": (
        "{code} n'est pas un P-code de cercle : ML suivi de 4 chiffres, par ex. ML0501 pour le "
        "cercle de Mopti{hint}"
    ),
    "{code}{known} is not inside {pcode} ({name}): an admin2 P-code starts with its admin1 "
    "P-code{hint}": (
        "{code}{known} n'est pas dans {pcode} ({name}) : le P-code d'un cercle commence par "
        "celui de sa région{hint}"
    ),
    " ({name}, in {region})": " ({name}, dans {region})",
    "; the P-code of {name} is {pcode}": " ; le P-code de {name} est {pcode}",
    "; in {vintage} {name} is the cercle {pcode} in {region}": (
        " ; dans {vintage}, {name} est le cercle {pcode} de {region}"
    ),
    " ({code} would be {name} in {vintage}: check which vintage your source uses){declare}": (
        " ({code} serait {name} dans {vintage} : vérifiez le millésime de votre source){declare}"
    ),
    " (to give codes of another vintage, declare it in location.vintage: {vintage})": (
        " (pour donner des codes d'un autre millésime, déclarez-le dans location.vintage : "
        "{vintage})"
    ),
    # distribution
    "only coordinators draft plans": "seuls les coordinateurs préparent des plans",
    "only coordinators approve plans": "seuls les coordinateurs approuvent des plans",
    "only coordinators cancel plans": "seuls les coordinateurs annulent des plans",
    "only coordinators order dispatches": "seuls les coordinateurs ordonnent des expéditions",
    "only coordinators close plans": "seuls les coordinateurs clôturent des plans",
    "plan {plan_id} kept changing; try again": "le plan {plan_id} changeait sans cesse ; réessayez",
    "plan {plan_id} changed meanwhile": "le plan {plan_id} a changé entre-temps",
    "coverage of {need_id} changed meanwhile": "la couverture de {need_id} a changé entre-temps",
    "the plan would have {lines} lines, more than the {most} a plan may hold: plan fewer needs "
    "(need_ids), items (item_codes) or warehouses (allowed_warehouses) at a time": (
        "le plan aurait {lines} lignes, plus que les {most} qu'un plan peut contenir : planifiez "
        "moins de besoins (need_ids), d'articles (item_codes) ou d'entrepôts "
        "(allowed_warehouses) à la fois"
    ),
    "not open for planning (unknown, not validated or covered): {needs}": (
        "non ouverts à la planification (inconnus, non validés ou couverts) : {needs}"
    ),
    "{date} is in the future (today is {today})": (
        "{date} est dans le futur (nous sommes le {today})"
    ),
    "partners confirm deliveries to their own needs only": (
        "les partenaires ne confirment les livraisons que pour leurs propres besoins"
    ),
    "plan {plan_id} has no line {line_id}": "le plan {plan_id} n'a pas de ligne {line_id}",
    "plan {plan_id} is {status}; only a draft can be approved": (
        "le plan {plan_id} est {status} ; seul un brouillon peut être approuvé"
    ),
    "plan {plan_id} has nothing to distribute": "le plan {plan_id} n'a rien à distribuer",
    "plan {plan_id} is {status}: only a plan not yet dispatched is cancelled": (
        "le plan {plan_id} est {status} : seul un plan pas encore expédié peut être annulé"
    ),
    "plan {plan_id} has lines stock already issued: close it with a reason instead": (
        "le plan {plan_id} a des lignes déjà sorties du stock : clôturez-le plutôt avec un motif"
    ),
    "plan {plan_id} is {status}: dispatch follows the reservation answers": (
        "le plan {plan_id} est {status} : l'expédition suit les réponses aux réservations"
    ),
    "plan {plan_id} has no reserved stock to dispatch": (
        "le plan {plan_id} n'a pas de stock réservé à expédier"
    ),
    "plan {plan_id} is {status}: nothing was dispatched yet": (
        "le plan {plan_id} est {status} : rien n'a encore été expédié"
    ),
    "line {line_id} serves need {need_id}, not {other}": (
        "la ligne {line_id} sert le besoin {need_id}, pas {other}"
    ),
    "{value} delivered on line {line_id}, but only {dispatched} were dispatched": (
        "{value} livrés sur la ligne {line_id}, mais seulement {dispatched} ont été expédiés"
    ),
    "plan {plan_id} serves no need {need_id}": "le plan {plan_id} ne sert aucun besoin {need_id}",
    "more households than individuals": "plus de ménages que de personnes",
    "closing a plan still waiting for stock's answer needs a reason": (
        "clôturer un plan qui attend encore la réponse du stock demande un motif"
    ),
    "plan {plan_id} is {status}: close after dispatch (or cancel it)": (
        "le plan {plan_id} est {status} : clôturez après l'expédition (ou annulez-le)"
    ),
    "warehouse codes must be unique": "les codes d'entrepôt doivent être uniques",
    "need ids must be unique": "les identifiants de besoin doivent être uniques",
    "max_units must be >= 0": "max_units doit être >= 0",
    "two caps for {partner} and {item}": "deux plafonds pour {partner} et {item}",
    "unknown warehouses {codes}": "entrepôts inconnus {codes}",
    # gateway
    "the access token has expired": "le jeton d'accès a expiré",
    "the access token is not valid: {reason}": "le jeton d'accès n'est pas valide : {reason}",
    "the access token was revoked": "le jeton d'accès a été révoqué",
    "only administrators manage organisations and users": (
        "seuls les administrateurs gèrent les organisations et les utilisateurs"
    ),
    "user {user_id} is being changed by someone else; retry": (
        "l'utilisateur {user_id} est modifié par quelqu'un d'autre ; réessayez"
    ),
    "administrators cannot deactivate their own organisation": (
        "les administrateurs ne peuvent pas désactiver leur propre organisation"
    ),
    "no organisation {organisation}": "aucune organisation {organisation}",
    "organisation {organisation} is deactivated": "l'organisation {organisation} est désactivée",
    "administrators cannot demote or deactivate themselves": (
        "les administrateurs ne peuvent ni se rétrograder ni se désactiver eux-mêmes"
    ),
    "API keys are issued from a dashboard login, not from another key": (
        "les clés d'API s'obtiennent en se connectant au tableau de bord, pas avec une autre clé"
    ),
    "the user is deactivated": "l'utilisateur est désactivé",
    "the API key is malformed": "la clé d'API est mal formée",
    "the API key is not known": "la clé d'API est inconnue",
    "the API key is revoked or expired": "la clé d'API est révoquée ou expirée",
    "only administrators read the audit log": "seuls les administrateurs lisent le journal d'audit",
    "at least one role is needed": "il faut au moins un rôle",
    "only a user with the warehouse role has warehouses": (
        "seul un utilisateur ayant le rôle warehouse a des entrepôts"
    ),
    "the key's owner does not have the role(s) {roles}": (
        "le propriétaire de la clé n'a pas le(s) rôle(s) {roles}"
    ),
    "the key's owner is not assigned to {warehouses}": (
        "le propriétaire de la clé n'est pas affecté à {warehouses}"
    ),
    # the templates of the services' errors (kitflow_*.domain.errors), as they are written
    "no plan {plan_id!r}": "aucun plan {plan_id!r}",
    # gateway: "no user x", "no API key k": French puts the noun first, whatever its gender
    "no {kind} {identifier}": "{kind} {identifier} introuvable",
    "{kind} {identifier} already exists": "{kind} {identifier} existe déjà",
    "API key": "clé d'API",
    "user": "utilisateur",
    "organisation": "organisation",
    "no need with id {need_id!r}": "aucun besoin d'identifiant {need_id!r}",
    "no norms profile with id {profile_id!r}": (
        "aucun profil de normes d'identifiant {profile_id!r}"
    ),
    "a norms profile with id {profile_id!r} already exists": (
        "un profil de normes d'identifiant {profile_id!r} existe déjà"
    ),
    "a need was already created with the Idempotency-Key {key!r}": (
        "un besoin a déjà été créé avec l'Idempotency-Key {key!r}"
    ),
    "a request with the Idempotency-Key {key!r} is still being processed; retry in "
    "{retry_after_s} s for its answer": (
        "une requête avec l'Idempotency-Key {key!r} est encore en cours ; réessayez dans "
        "{retry_after_s} s pour obtenir sa réponse"
    ),
    "no warehouse with code {code!r}": "aucun entrepôt avec le code {code!r}",
    "a warehouse with code {code!r} already exists": (
        "un entrepôt avec le code {code!r} existe déjà"
    ),
    "document number {document_number!r} is already recorded (movement {movement_id})": (
        "le numéro de document {document_number!r} est déjà enregistré (mouvement {movement_id})"
    ),
    "count {count_id} was already submitted": "l'inventaire {count_id} a déjà été soumis",
    "no count {count_id} in {warehouse}": "aucun inventaire {count_id} à {warehouse}",
    "no reservation {line_id} in {warehouse}": "aucune réservation {line_id} à {warehouse}",
    "an item with code {code!r} is already in the catalogue": (
        "un article avec le code {code!r} est déjà au catalogue"
    ),
    "unknown admin1 P-code {code}; the regions of {vintage} are {codes}{hint}": (
        "P-code de région {code} inconnu ; les régions de {vintage} sont {codes}{hint}"
    ),
    "unknown admin2 P-code {code} in {region} ({admin1}); its cercles are {cercles}{hint}{other}": (
        "P-code de cercle {code} inconnu dans la région de {region} ({admin1}) ; ses cercles "
        "sont {cercles}{hint}{other}"
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

FR: Mapping[str, str] = {**TITLES_FR, **DETAILS_FR, **REFUSALS_FR, **DOCUMENTS_FR}
