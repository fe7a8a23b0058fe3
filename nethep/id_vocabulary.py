"""The header vocabulary of direct identifiers, in six languages (docs/identifiers.md).

Each kind (a HIPAA Safe Harbor category, 45 CFR 164.514(b)(2), or its European
counterpart) lists phrases per language (en, fr, de, es, it, nl). A phrase is
normalised like a header (:func:`nethep.identifiers.header_tokens`: case, accents,
separators, camelCase, REDCap suffixes, stop words) and matched on whole tokens,
never on substrings, in one of three ways:

- ``phrase``: its tokens appear in a row anywhere in the header, or the phrase
  written as one word appears as a token (``date of birth`` also matches
  ``DateOfBirth``, ``dob_date``...);
- ``=phrase`` (ambiguous on its own): it matches only when every other token of
  the header is a qualifier (:data:`QUALIFIERS`: patient, first, last, number,
  code...), so ``Name`` and ``Patient name`` match but ``Event Name``, ``Site name``
  and ``Treatment name`` do not; ``Cell`` does, ``Cell type`` does not;
- ``*word`` (a compound head, German or Dutch): it also matches at the end of a
  longer token (``Patientenvorname``, ``Wohnadresse``, ``emailadres``).

A header that also holds an activity word (:data:`DISMISS`: follow-up, visit, call,
consent...) is not a phone, e-mail or address column (``Telephone follow-up``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

LANGUAGES = ("en", "fr", "de", "es", "it", "nl")

_V = MappingProxyType


def _words(text: str) -> frozenset[str]:
    """The words of a text block, as a set."""
    return frozenset(text.split())


#: Kind -> language -> phrases. Order matters: the first kind that matches is reported.
VOCABULARY: Mapping[str, Mapping[str, tuple[str, ...]]] = _V({
    "email": _V({
        "en": ("email", "e-mail", "mail", "email address", "e-mail address", "mail address"),
        "fr": ("courriel", "adresse mail", "adresse electronique"),
        "de": ("*mail", "mailadresse", "e-mail-adresse"),
        "es": ("correo", "correo electronico", "email"),
        "it": ("posta elettronica", "indirizzo email", "=pec"),
        "nl": ("*mailadres", "emailadres", "e-mailadres"),
    }),
    "IP address or URL": _V({
        "en": ("ip address", "ipaddress", "=ip", "url", "website", "web address", "homepage",
               "web page", "social media", "facebook", "twitter", "instagram", "linkedin",
               "mac address"),
        "fr": ("adresse ip", "site web", "page web"),
        "de": ("ip adresse", "webseite", "internetseite"),
        "es": ("direccion ip", "sitio web", "pagina web"),
        "it": ("indirizzo ip", "sito web"),
        "nl": ("ip adres", "webpagina", "website"),
    }),
    "phone or fax": _V({
        "en": ("phone", "telephone", "tel", "phone number", "telephone number", "phone no",
               "cellphone", "cell phone", "cell number", "=cell", "=mobile", "mobile number",
               "mobile phone", "fax", "fax number", "contact number", "contact phone",
               "home phone", "work phone", "smartphone", "landline", "pager"),
        "fr": ("telephone", "tel", "=portable", "numero portable", "numero telephone",
               "telecopie", "=fixe"),
        "de": ("*telefon", "telefonnummer", "*telefonnummer", "telefonnr", "telnr",
               "handy", "*handynummer", "=mobil", "mobilnummer", "mobilfunknummer",
               "rufnummer", "festnetz", "*faxnummer"),
        "es": ("telefono", "=movil", "=celular", "numero telefono", "numero movil", "tlf",
               "tfno"),
        "it": ("telefono", "=cellulare", "numero telefono", "recapito telefonico",
               "=recapito", "tel"),
        "nl": ("telefoon", "telefoonnummer", "*telefoonnummer", "=mobiel", "mobiel nummer",
               "gsm", "gsm nummer", "telnr"),
    }),
    "exact birth date": _V({
        "en": ("dob", "d.o.b.", "date of birth", "birth date", "birthdate", "birthday",
               "birth datetime", "day of birth", "month of birth"),
        "fr": ("date de naissance", "date naissance", "date naiss", "dt naiss", "=naissance"),
        "de": ("geburtsdatum", "*geburtsdatum", "geb datum", "gebdatum", "geburtstag",
               "geboren am", "=geburt", "=geboren"),
        "es": ("fecha de nacimiento", "fecha nacimiento", "fecha nac", "f nac", "fec nac",
               "f nacimiento", "=nacimiento"),
        "it": ("data di nascita", "data nascita", "dt nascita", "nato il", "nata il",
               "=nascita"),
        "nl": ("geboortedatum", "*geboortedatum", "geb datum", "geboren op", "=geboorte",
               "=geboren"),
    }),
    "place of birth": _V({
        "en": ("place of birth", "birthplace", "birth place", "town of birth", "city of birth"),
        "fr": ("lieu de naissance", "ville de naissance", "commune de naissance"),
        "de": ("geburtsort", "*geburtsort"),
        "es": ("lugar de nacimiento", "municipio de nacimiento", "localidad de nacimiento"),
        "it": ("luogo di nascita", "comune di nascita", "citta di nascita"),
        "nl": ("geboorteplaats", "plaats van geboorte"),
    }),
    "postcode": _V({
        "en": ("zip", "zipcode", "zip code", "postcode", "post code", "postal code"),
        "fr": ("code postal",),
        "de": ("plz", "postleitzahl", "*postleitzahl"),
        "es": ("codigo postal", "cod postal"),
        "it": ("codice postale", "codice avviamento postale", "c a p"),
        "nl": ("postcode", "*postcode"),
    }),
    "street address": _V({
        "en": ("address", "addr", "street", "street address", "address line",
               "home address", "house number", "residential address"),
        "fr": ("adresse", "rue", "numero de rue", "adresse postale", "domicile"),
        "de": ("*adresse", "anschrift", "*anschrift", "*strasse", "hausnummer",
               "wohnanschrift"),
        "es": ("direccion", "domicilio", "calle", "numero de calle"),
        "it": ("indirizzo", "residenza indirizzo", "numero civico", "domicilio"),
        "nl": ("*adres", "straat", "*straat", "huisnummer", "straatnaam"),
    }),
    "geographic coordinates": _V({
        "en": ("latitude", "longitude", "lat long", "gps coordinates", "geocode",
               "geolocation"),
        "fr": ("coordonnees gps", "geolocalisation"),
        "de": ("breitengrad", "langengrad", "gps koordinaten"),
        "es": ("latitud", "=longitud", "coordenadas gps"),
        "it": ("latitudine", "longitudine", "coordinate gps"),
        "nl": ("breedtegraad", "lengtegraad", "gps coordinaten"),
    }),
    "town or city": _V({
        "en": ("=city", "=town", "=village", "city of residence", "town of residence"),
        "fr": ("=ville", "=commune", "commune de residence", "ville de residence"),
        "de": ("wohnort", "=ort", "=stadt", "=gemeinde", "*wohnort"),
        "es": ("=ciudad", "=localidad", "=municipio", "municipio de residencia",
               "=poblacion"),
        "it": ("=citta", "=comune", "comune di residenza", "citta di residenza"),
        "nl": ("woonplaats", "=plaats", "=gemeente", "=stad"),
    }),
    "national health number": _V({
        "en": ("nhs number", "nhs no", "nhsno", "nhs num", "=nhs", "chi number", "=chi",
               "health card number", "health card", "health insurance number",
               "medicare number", "medicaid number", "=medicare", "hcn", "=ihi"),
        "fr": ("carte vitale", "numero carte vitale", "matricule ins", "=ins",
               "identifiant national de sante"),
        "de": ("versichertennummer", "*versichertennummer", "kvnr", "kv nummer",
               "versicherungsnummer", "*versicherungsnummer", "egk nummer",
               "krankenkassennummer"),
        "es": ("tarjeta sanitaria", "numero tarjeta sanitaria", "=cip", "cip autonomico",
               "=tsi", "codigo de identificacion personal"),
        "it": ("tessera sanitaria", "numero tessera sanitaria", "tessera", "tessera tsn"),
        "nl": ("zorgverzekeringsnummer", "verzekerdennummer", "polisnummer"),
    }),
    "social security number": _V({
        "en": ("ssn", "social security", "social security number", "social insurance number",
               "national insurance number", "ni number", "nino", "=sin"),
        "fr": ("numero de securite sociale", "securite sociale", "=nir", "secu", "num secu",
               "=ss", "n ss", "numero ss", "niss"),
        "de": ("sozialversicherungsnummer", "svnr", "sv nummer",
               "rentenversicherungsnummer"),
        "es": ("nuss", "=nass", "numero seguridad social", "seguridad social",
               "numero de afiliacion"),
        "it": ("numero previdenza sociale", "=inps"),
        "nl": ("sofinummer", "sofi nummer", "insz", "insz nummer"),
    }),
    "national identity number": _V({
        "en": ("national id", "national identifier", "national identity number",
               "national number", "identity card", "id card", "id card number", "passport",
               "passport number", "driving licence", "driving license", "driver license",
               "drivers license", "licence number", "license number", "tax id", "tin"),
        "fr": ("numero national", "registre national", "carte d identite", "cni",
               "passeport", "permis de conduire", "numero fiscal"),
        "de": ("personalausweis", "ausweisnummer", "personalausweisnummer", "reisepass",
               "passnummer", "fuhrerschein", "fuehrerschein", "steuer id",
               "steueridentifikationsnummer"),
        "es": ("dni", "=nie", "=nif", "documento nacional de identidad", "pasaporte",
               "carnet de conducir", "numero documento", "documento identidad"),
        "it": ("codice fiscale", "cod fiscale", "cod fisc", "codfisc", "carta d identita",
               "passaporto", "patente"),
        "nl": ("bsn", "burgerservicenummer", "rijksregisternummer", "rijksregister",
               "identiteitskaart", "paspoort", "rijbewijs", "nationaal nummer"),
    }),
    "medical record number": _V({
        "en": ("mrn", "medical record", "medical record number", "med rec", "med rec no",
               "hospital number", "hospital no", "hosp no", "hospital id",
               "hospital patient number", "hospital patient id", "unit number",
               "ur number", "=urn", "chart number", "chart no", "case note number",
               "encounter number", "admission number", "visit number", "accession number"),
        "fr": ("=ipp", "=nip", "=nda", "numero de dossier", "numero dossier", "=dossier",
               "numero de sejour", "=sejour", "identifiant permanent du patient",
               "numero d hospitalisation", "numero patient hopital"),
        "de": ("fallnummer", "*fallnummer", "fall nr", "fallnr", "aufnahmenummer",
               "patientennummer", "*patientennummer", "patienten nr", "pat nr", "patnr",
               "=pid", "kis nummer", "krankenblattnummer", "aktenzeichen"),
        "es": ("historia clinica", "numero historia clinica", "numero de historia", "nhc",
               "n historia", "num historia", "=historia", "numero de episodio", "=episodio"),
        "it": ("cartella clinica", "numero cartella", "numero di cartella", "=cartella",
               "nosologico", "numero nosologico", "codice sanitario", "numero ricovero"),
        "nl": ("patientnummer", "*patientnummer", "ziekenhuisnummer", "zis nummer",
               "epd nummer", "dossiernummer", "opnamenummer"),
    }),
    "EHR patient id": _V({
        "en": ("pat id", "patid", "pat mrn id", "pat enc csn id", "=csn", "person source value",
               "patient source value", "source patient id", "empi", "=mpi", "emr id",
               "ehr id", "epic id", "local patient id", "enterprise id"),
        "fr": ("identifiant patient dpi", "id dpi", "numero dpi"),
        "de": ("kis id", "kis patienten id"),
        "es": ("id hce", "numero hce"),
        "it": ("id fse", "codice fse"),
        "nl": ("epd id", "hix nummer"),
    }),
    "name": _V({
        "en": ("=name", "=names", "surname", "forename", "first name", "last name",
               "given name", "family name", "full name", "middle name", "maiden name",
               "nickname", "employer", "next of kin"),
        "fr": ("=nom", "=noms", "prenom", "prenoms", "nom de famille", "nom d usage",
               "nom de jeune fille", "nom marital", "nom patronymique", "employeur",
               "personne a prevenir", "personne de confiance"),
        "de": ("vorname", "*vorname", "nachname", "*nachname", "familienname",
               "geburtsname", "=name", "rufname", "arbeitgeber", "angehorige", "patientenname",
               "kontaktperson", "ansprechpartner"),
        "es": ("=nombre", "apellido", "apellidos", "primer apellido", "segundo apellido",
               "nombre completo", "empleador"),
        "it": ("=nome", "cognome", "nome e cognome", "nominativo", "datore di lavoro"),
        "nl": ("=naam", "voornaam", "*voornaam", "achternaam", "*achternaam",
               "familienaam", "meisjesnaam", "roepnaam", "tussenvoegsel", "werkgever"),
    }),
    "initials": _V({
        "en": ("initials", "inits", "pt initials"),
        "fr": ("initiales",),
        "de": ("initialen",),
        "es": ("iniciales",),
        "it": ("iniziali",),
        "nl": ("voorletters", "initialen"),
    }),
    "account number": _V({
        "en": ("account number", "bank account", "iban", "credit card", "card number",
               "policy number", "member id", "member number", "beneficiary number",
               "health plan number", "subscriber id", "insurance number"),
        "fr": ("numero de compte", "compte bancaire", "=rib", "numero adherent"),
        "de": ("kontonummer", "bankverbindung", "mitgliedsnummer"),
        "es": ("numero de cuenta", "cuenta bancaria", "numero de poliza"),
        "it": ("numero di conto", "conto corrente", "numero polizza"),
        "nl": ("rekeningnummer", "bankrekening", "lidnummer"),
    }),
    "device serial number": _V({
        "en": ("serial number", "serial no", "=serial", "device serial", "device id",
               "device identifier", "imei", "=udi", "implant serial"),
        "fr": ("numero de serie",),
        "de": ("seriennummer", "*seriennummer", "geratenummer"),
        "es": ("numero de serie",),
        "it": ("numero di serie", "matricola dispositivo"),
        "nl": ("serienummer", "*serienummer"),
    }),
    "photo or biometric": _V({
        "en": ("photo", "photograph", "=picture", "face image", "portrait", "selfie",
               "fingerprint", "biometric", "iris scan", "retina scan", "voiceprint",
               "voice recording"),
        "fr": ("=photo", "empreinte digitale"),
        "de": ("=foto", "lichtbild", "fingerabdruck"),
        "es": ("=foto", "fotografia", "huella digital", "huella dactilar"),
        "it": ("=foto", "fotografia", "impronta digitale"),
        "nl": ("=foto", "pasfoto", "vingerafdruk"),
    }),
    "vehicle or licence plate": _V({
        "en": ("licence plate", "license plate", "number plate", "vehicle id", "=vin",
               "vehicle identification number"),
        "fr": ("immatriculation", "plaque d immatriculation"),
        "de": ("kennzeichen", "kfz kennzeichen"),
        "es": ("matricula vehiculo", "placa"),
        "it": ("targa",),
        "nl": ("kenteken",),
    }),
})

#: Words that, beside an ambiguous ``=phrase``, keep the header an identifier:
#: whose (patient, mother...), which part (first, last...), and number words.
QUALIFIERS = _words("""
    patient patients pt pat patiente patienten patientin paciente pacientes paziente
    pazienti person persona personne persoon client cliente klant subject participant
    first last given family full middle maiden birth married usual preferred legal nick
    alias own home private privat prive privee domicile residence habitual current
    complete complet completo completa volledige vollstandiger mother father parent
    spouse partner relative kin next guardian contact emergency carer caregiver
    personal naissance jeune fille usage marital epouse nascita nacimiento geboorte
    geburts primer segundo primo secondo number num no nr n numero nummer code codigo
    codice id identifier identifiant identificador identificativo key cle clave chiave
    value text field var
""")

#: Activity words: a header holding one is about a contact, not a phone/e-mail/address.
DISMISS = _words("""
    followup follow consultation consult visit call calls interview questionnaire
    survey appointment consent suivi entretien rappel appel seguimiento consulta visita
    llamada controllo chiamata nachsorge kontrolle anruf gesprek controle bezoek date
""")

#: Words a header may hold for a numeric postcode to count by value (ambiguous alone:
#: CP may be Child-Pugh, CAP a regimen), besides every postcode phrase above.
POSTCODE_HINTS = _words("cp cap npa plz zip post postal postale postcode")

#: Words that name a clinical event: a date column holding one is not a date of birth.
EVENT_WORDS = _words("""
    diagnosis dx diag diagnose diagnostic diagnostique diagnostico diagnosi erstdiagnose
    treatment tx therapy therapie surgery operation op resection embolization ablation
    death died dod deces mort tod todesdatum sterbedatum muerte fallecimiento defuncion
    exitus morte decesso overlijden overlijdensdatum contact kontakt contacto contatto
    visit followup fu last derniere dernier dernieres nouvelles ddn letzte ultima ultimo
    laatste admission discharge aufnahme entlassung ingreso alta ricovero dimissione
    opname ontslag start end stop progression recurrence relapse event censor censoring
    exam sample biopsy imaging scan consent inclusion enrolment enrollment registration
    randomisation randomization baseline onset symptoms traitement chirurgie
    behandlung tratamiento cirugia trattamento terapia intervento chirurgia behandeling
    operatie suivi seguimiento nachsorge
""")

#: Stop words dropped from headers and phrases before matching.
STOPWORDS = _words("""
    of the an de du des d la le les l di del della dello dei degli da van der den het
    von vom zum zur y e et und and en el los las al am im op il lo for per por para pour
    fur voor s at
""")
