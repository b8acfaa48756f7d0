"""The countries and regions the provider serves, as its dumps write them: each
country's mobile numbering, carriers and credits, and each region's name, ISO 3166-2
code, time zone and share of the traffic.

The importer reads it for the ISO codes of the regions a dump names
(`imports/regions.py`); the demo breach draws its phones from it (`demo/`). Numbers
are generated from these prefixes and kept only when phonenumbers calls them valid
mobile numbers of their country (`demo/phones.py`). Where mobile numbers are
geographic (NANP area codes, Brazilian and Mexican area codes), the prefixes sit on
the region, so a New York phone has a New York area code.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Region:
    name: str  # as the provider writes it
    code: str  # ISO 3166-2, empty where the provider gives none
    weight: float
    time_zone: str
    prefixes: tuple[str, ...] = ()  # national number prefixes, where numbering is geographic


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    lengths: tuple[int, ...]  # of the national significant number
    prefixes: tuple[str, ...]  # mobile prefixes, for regions that carry none
    carriers: tuple[tuple[str, float], ...]
    regions: tuple[Region, ...]
    credits: int  # per SMS; a voice call costs twice that
    names: str  # key of NAMES
    languages: tuple[tuple[str, float], ...] = field(default=(("en", 1.0),))


def _r(name: str, code: str, weight: float, time_zone: str, *prefixes: str) -> Region:
    return Region(name, code, weight, time_zone, tuple(prefixes))


def _single_zone(time_zone: str, *regions: tuple[str, str, float]) -> tuple[Region, ...]:
    return tuple(Region(name, code, weight, time_zone) for name, code, weight in regions)


_NY, _CHI, _DEN, _LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)

COUNTRIES: dict[str, Country] = {
    c.code: c
    for c in (
        Country(
            "US",
            (10,),
            (),
            (
                ("Verizon Wireless", 36),
                ("AT&T Mobility", 33),
                ("T-Mobile USA", 27),
                ("US Cellular", 2),
                ("Google Fi", 2),
            ),
            (
                _r("New York", "US-NY", 9, _NY, "212", "646", "917", "718", "347", "516"),
                _r("California", "US-CA", 12, _LA, "415", "510", "408", "650", "213", "310", "619"),
                _r("Texas", "US-TX", 9, _CHI, "512", "214", "713", "210", "469", "832"),
                _r("Florida", "US-FL", 7, _NY, "305", "407", "813", "786", "954"),
                _r("Illinois", "US-IL", 5, _CHI, "312", "773", "847"),
                _r("Massachusetts", "US-MA", 4, _NY, "617", "781", "508"),
                _r("Washington", "US-WA", 4, _LA, "206", "425", "253"),
                _r("Georgia", "US-GA", 4, _NY, "404", "678", "770"),
                _r("Colorado", "US-CO", 3, _DEN, "303", "720"),
                _r("Arizona", "US-AZ", 3, "America/Phoenix", "602", "480"),
                _r("Pennsylvania", "US-PA", 4, _NY, "215", "412", "610"),
                _r("Ohio", "US-OH", 3, _NY, "216", "614", "513"),
                _r("North Carolina", "US-NC", 3, _NY, "704", "919"),
                _r("Virginia", "US-VA", 3, _NY, "703", "571", "804"),
                _r("Michigan", "US-MI", 3, "America/Detroit", "313", "248", "616"),
                _r("Minnesota", "US-MN", 2, _CHI, "612", "651"),
                _r("Oregon", "US-OR", 2, _LA, "503", "971"),
                _r("Utah", "US-UT", 1, _DEN, "801", "385"),
                _r("Nevada", "US-NV", 1, _LA, "702", "775"),
                _r("District of Columbia", "US-DC", 1, _NY, "202"),
            ),
            1,
            "en",
        ),
        Country(
            "CA",
            (10,),
            (),
            (
                ("Rogers Wireless", 32),
                ("Bell Mobility", 30),
                ("Telus Mobility", 28),
                ("Freedom Mobile", 10),
            ),
            (
                _r("Ontario", "CA-ON", 39, "America/Toronto", "416", "647", "437", "905", "613"),
                _r("Quebec", "CA-QC", 22, "America/Toronto", "514", "438", "418", "450"),
                _r("British Columbia", "CA-BC", 14, "America/Vancouver", "604", "778", "250"),
                _r("Alberta", "CA-AB", 12, "America/Edmonton", "403", "587", "780"),
                _r("Manitoba", "CA-MB", 4, "America/Winnipeg", "204"),
                _r("Nova Scotia", "CA-NS", 3, "America/Halifax", "902"),
            ),
            1,
            "en",
            (("en", 0.78), ("fr", 0.22)),
        ),
        Country(
            "GB",
            (10,),
            ("73", "74", "75", "77", "78", "79"),
            (("EE", 35), ("Vodafone UK", 24), ("O2 UK", 26), ("Three UK", 15)),
            _single_zone(
                "Europe/London",
                ("England", "GB-ENG", 84),
                ("Scotland", "GB-SCT", 8),
                ("Wales", "GB-WLS", 5),
                ("Northern Ireland", "GB-NIR", 3),
            ),
            2,
            "en",
        ),
        Country(
            "DE",
            (10, 11),
            ("151", "152", "157", "159", "160", "162", "163", "170", "171", "172", "175", "176"),
            (("Telekom Deutschland", 40), ("Vodafone GmbH", 31), ("Telefónica Germany (O2)", 29)),
            _single_zone(
                "Europe/Berlin",
                ("Nordrhein-Westfalen", "DE-NW", 21),
                ("Bayern", "DE-BY", 16),
                ("Baden-Württemberg", "DE-BW", 13),
                ("Niedersachsen", "DE-NI", 10),
                ("Hessen", "DE-HE", 8),
                ("Berlin", "DE-BE", 9),
                ("Hamburg", "DE-HH", 5),
                ("Sachsen", "DE-SN", 5),
            ),
            2,
            "de",
            (("de", 0.88), ("en", 0.12)),
        ),
        Country(
            "FR",
            (9,),
            ("6", "73", "74", "75", "76", "77", "78"),
            (("Orange France", 38), ("SFR", 24), ("Bouygues Telecom", 20), ("Free Mobile", 18)),
            _single_zone(
                "Europe/Paris",
                ("Île-de-France", "FR-IDF", 30),
                ("Auvergne-Rhône-Alpes", "FR-ARA", 13),
                ("Provence-Alpes-Côte d'Azur", "FR-PAC", 8),
                ("Occitanie", "FR-OCC", 9),
                ("Nouvelle-Aquitaine", "FR-NAQ", 9),
                ("Hauts-de-France", "FR-HDF", 9),
            ),
            2,
            "fr",
            (("fr", 0.9), ("en", 0.1)),
        ),
        Country(
            "ES",
            (9,),
            ("6", "71", "72", "73", "74"),
            (("Movistar", 37), ("Vodafone España", 24), ("Orange España", 27), ("MásMóvil", 12)),
            _single_zone(
                "Europe/Madrid",
                ("Comunidad de Madrid", "ES-MD", 30),
                ("Cataluña", "ES-CT", 25),
                ("Andalucía", "ES-AN", 18),
                ("Comunidad Valenciana", "ES-VC", 14),
                ("País Vasco", "ES-PV", 8),
            ),
            2,
            "es",
            (("es", 0.9), ("en", 0.1)),
        ),
        Country(
            "IT",
            (10,),
            ("320", "328", "333", "338", "340", "347", "349", "366", "380", "389", "391"),
            (("TIM", 30), ("Vodafone Italia", 27), ("WindTre", 26), ("Iliad Italia", 17)),
            _single_zone(
                "Europe/Rome",
                ("Lombardia", "IT-25", 27),
                ("Lazio", "IT-62", 18),
                ("Campania", "IT-72", 12),
                ("Piemonte", "IT-21", 9),
                ("Veneto", "IT-34", 10),
                ("Emilia-Romagna", "IT-45", 10),
                ("Toscana", "IT-52", 8),
                ("Sicilia", "IT-82", 6),
            ),
            2,
            "it",
        ),
        Country(
            "NL",
            (9,),
            ("61", "62", "63", "64", "65", "68"),
            (("KPN", 38), ("VodafoneZiggo", 32), ("Odido", 30)),
            _single_zone(
                "Europe/Amsterdam",
                ("Noord-Holland", "NL-NH", 32),
                ("Zuid-Holland", "NL-ZH", 28),
                ("Utrecht", "NL-UT", 14),
                ("Noord-Brabant", "NL-NB", 16),
                ("Gelderland", "NL-GE", 10),
            ),
            2,
            "nl",
        ),
        Country(
            "CH",
            (9,),
            ("75", "76", "77", "78", "79"),
            (("Swisscom", 55), ("Sunrise", 27), ("Salt", 18)),
            _single_zone(
                "Europe/Zurich",
                ("Zürich", "CH-ZH", 40),
                ("Bern", "CH-BE", 20),
                ("Vaud", "CH-VD", 20),
                ("Genève", "CH-GE", 20),
            ),
            3,
            "de",
            (("de", 0.6), ("fr", 0.3), ("en", 0.1)),
        ),
        Country(
            "SE",
            (9,),
            ("70", "72", "73", "76", "79"),
            (("Telia", 38), ("Tele2", 30), ("Telenor Sverige", 22), ("Tre", 10)),
            _single_zone(
                "Europe/Stockholm",
                ("Stockholms län", "SE-AB", 50),
                ("Västra Götalands län", "SE-O", 30),
                ("Skåne län", "SE-M", 20),
            ),
            2,
            "sv",
        ),
        Country(
            "PL",
            (9,),
            ("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88"),
            (("Play", 31), ("Orange Polska", 27), ("Plus", 23), ("T-Mobile Polska", 19)),
            _single_zone(
                "Europe/Warsaw",
                ("Mazowieckie", "PL-14", 35),
                ("Małopolskie", "PL-12", 20),
                ("Wielkopolskie", "PL-30", 15),
                ("Dolnośląskie", "PL-02", 15),
                ("Pomorskie", "PL-22", 15),
            ),
            2,
            "pl",
        ),
        Country(
            "IE",
            (9,),
            ("83", "85", "86", "87", "89"),
            (("Vodafone Ireland", 38), ("Three Ireland", 33), ("Eir", 29)),
            _single_zone(
                "Europe/Dublin",
                ("Dublin", "IE-D", 55),
                ("Cork", "IE-CO", 25),
                ("Galway", "IE-G", 20),
            ),
            2,
            "en",
        ),
        Country(
            "BR",
            (11,),
            (),
            (("Vivo", 38), ("Claro Brasil", 33), ("TIM Brasil", 29)),
            (
                _r("São Paulo", "BR-SP", 40, "America/Sao_Paulo", "119", "199", "129"),
                _r("Rio de Janeiro", "BR-RJ", 20, "America/Sao_Paulo", "219"),
                _r("Minas Gerais", "BR-MG", 12, "America/Sao_Paulo", "319"),
                _r("Paraná", "BR-PR", 8, "America/Sao_Paulo", "419"),
                _r("Rio Grande do Sul", "BR-RS", 8, "America/Sao_Paulo", "519"),
                _r("Bahia", "BR-BA", 6, "America/Bahia", "719"),
                _r("Distrito Federal", "BR-DF", 6, "America/Sao_Paulo", "619"),
            ),
            3,
            "pt",
            (("en", 0.7), ("es", 0.3)),
        ),
        Country(
            "MX",
            (10,),
            (),
            (("Telcel", 62), ("AT&T México", 18), ("Movistar México", 12), ("Bait", 8)),
            (
                _r("Ciudad de México", "MX-CMX", 40, "America/Mexico_City", "55", "56"),
                _r("Jalisco", "MX-JAL", 18, "America/Mexico_City", "33"),
                _r("Nuevo León", "MX-NLE", 16, "America/Monterrey", "81"),
                _r("Puebla", "MX-PUE", 10, "America/Mexico_City", "222"),
                _r("Baja California", "MX-BCN", 9, "America/Tijuana", "664"),
                _r("Yucatán", "MX-YUC", 7, "America/Merida", "999"),
            ),
            3,
            "es",
            (("es", 0.85), ("en", 0.15)),
        ),
        Country(
            "IN",
            (10,),
            ("62", "70", "73", "77", "79", "81", "84", "88", "90", "91", "93", "96", "98", "99"),
            (("Reliance Jio", 41), ("Bharti Airtel", 38), ("Vodafone Idea", 18), ("BSNL", 3)),
            _single_zone(
                "Asia/Kolkata",
                ("Maharashtra", "IN-MH", 24),
                ("Karnataka", "IN-KA", 22),
                ("Delhi", "IN-DL", 16),
                ("Tamil Nadu", "IN-TN", 14),
                ("Telangana", "IN-TG", 12),
                ("West Bengal", "IN-WB", 6),
                ("Gujarat", "IN-GJ", 6),
            ),
            3,
            "in",
        ),
        Country(
            "AU",
            (9,),
            ("40", "41", "42", "43", "44", "45", "47", "48", "49"),
            (("Telstra", 45), ("Optus", 31), ("Vodafone Australia", 24)),
            (
                _r("New South Wales", "AU-NSW", 33, "Australia/Sydney"),
                _r("Victoria", "AU-VIC", 27, "Australia/Melbourne"),
                _r("Queensland", "AU-QLD", 20, "Australia/Brisbane"),
                _r("Western Australia", "AU-WA", 12, "Australia/Perth"),
                _r("South Australia", "AU-SA", 8, "Australia/Adelaide"),
            ),
            3,
            "en",
        ),
        Country(
            "JP",
            (10,),
            ("70", "80", "90"),
            (("NTT Docomo", 42), ("KDDI au", 30), ("SoftBank", 24), ("Rakuten Mobile", 4)),
            _single_zone(
                "Asia/Tokyo",
                ("Tokyo", "JP-13", 40),
                ("Osaka", "JP-27", 20),
                ("Kanagawa", "JP-14", 15),
                ("Aichi", "JP-23", 10),
                ("Fukuoka", "JP-40", 8),
                ("Hokkaido", "JP-01", 7),
            ),
            3,
            "jp",
        ),
        Country(
            "SG",
            (8,),
            ("81", "82", "83", "84", "85", "86", "87", "88", "90", "91", "92", "93", "94"),
            (("Singtel", 47), ("StarHub", 27), ("M1", 21), ("SIMBA", 5)),
            # The provider writes no region for a city state.
            _single_zone("Asia/Singapore", ("", "", 1)),
            3,
            "en",
        ),
        Country(
            "PH",
            (10,),
            ("905", "906", "915", "916", "917", "918", "919", "920", "921", "927", "928", "947"),
            (("Globe Telecom", 50), ("Smart Communications", 46), ("DITO", 4)),
            _single_zone(
                "Asia/Manila",
                ("Metro Manila", "PH-00", 60),
                ("Cebu", "PH-CEB", 25),
                ("Davao del Sur", "PH-DAS", 15),
            ),
            3,
            "ph",
        ),
        Country(
            "ZA",
            (9,),
            ("60", "61", "62", "63", "71", "72", "73", "74", "76", "78", "79", "82", "83", "84"),
            (("Vodacom", 42), ("MTN South Africa", 32), ("Cell C", 14), ("Telkom Mobile", 12)),
            _single_zone(
                "Africa/Johannesburg",
                ("Gauteng", "ZA-GP", 50),
                ("Western Cape", "ZA-WC", 25),
                ("KwaZulu-Natal", "ZA-KZN", 20),
                ("Eastern Cape", "ZA-EC", 5),
            ),
            3,
            "en",
        ),
        Country(
            "NG",
            (10,),
            ("703", "706", "803", "806", "810", "813", "814", "816", "903", "906", "802", "808"),
            (("MTN Nigeria", 52), ("Airtel Nigeria", 23), ("Globacom", 22), ("9mobile", 3)),
            _single_zone(
                "Africa/Lagos",
                ("Lagos", "NG-LA", 50),
                ("Federal Capital Territory", "NG-FC", 20),
                ("Rivers", "NG-RI", 12),
                ("Kano", "NG-KN", 10),
                ("Oyo", "NG-OY", 8),
            ),
            3,
            "ng",
        ),
    )
}
