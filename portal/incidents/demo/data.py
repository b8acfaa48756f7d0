"""The tables the demo breach is drawn from besides the provider's countries
(`portal.incidents.countries`): where each demo account's people are, the shares of
the log, message contexts, the hours and days people get codes, and the names of the
people in each directory.
"""

# Where each demo account's exposed phones are, by account id: Acme is a US company
# with offices abroad, Globex a European one, Initech spread across the world.
ACCOUNT_COUNTRY_WEIGHTS: dict[str, tuple[tuple[str, float], ...]] = {
    "DA7QK4M2ZP": (
        ("US", 55),
        ("CA", 8),
        ("GB", 6),
        ("IN", 6),
        ("MX", 5),
        ("BR", 4),
        ("DE", 3),
        ("AU", 3),
        ("FR", 2),
        ("ES", 2),
        ("JP", 2),
        ("PH", 2),
        ("NG", 1),
        ("ZA", 1),
    ),
    "DA3HN8WQ1C": (
        ("DE", 30),
        ("FR", 14),
        ("GB", 12),
        ("ES", 8),
        ("IT", 8),
        ("NL", 7),
        ("CH", 5),
        ("PL", 5),
        ("SE", 4),
        ("US", 4),
        ("IE", 3),
    ),
    "DA9XK2R7LB": (
        ("US", 25),
        ("IN", 15),
        ("JP", 10),
        ("AU", 10),
        ("SG", 8),
        ("PH", 8),
        ("BR", 6),
        ("ZA", 5),
        ("NG", 5),
        ("MX", 4),
        ("CA", 4),
    ),
}
# Shares of the log rows per account, in DEMO_ACCOUNTS order.
ACCOUNT_ROW_SHARES: tuple[float, ...] = (0.5, 0.3, 0.2)

CONTEXTS: tuple[tuple[str, float], ...] = (
    ("authentication", 86),
    ("enrollment", 5),
    ("administrator login", 4),
    ("verify", 3),
    ("reactivation", 2),
)

# Relative traffic by local hour: people sign in when they start work and after lunch.
HOUR_WEIGHTS: tuple[float, ...] = (
    0.15, 0.1, 0.08, 0.07, 0.08, 0.15, 0.4, 0.9, 1.6, 1.9, 1.8, 1.7,
    1.4, 1.6, 1.7, 1.6, 1.4, 1.1, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2,
)  # fmt: skip
# Monday first; weekends are quiet.
WEEKDAY_WEIGHTS: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 0.9, 0.35, 0.3)

NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    key: (tuple(first.split(",")), tuple(last.split(",")))
    for key, first, last in (
        (
            "en",
            "James,Mary,Robert,Patricia,John,Jennifer,Michael,Linda,David,Elizabeth,William,"
            "Barbara,Richard,Susan,Joseph,Jessica,Thomas,Sarah,Chris,Karen,Daniel,Emily,"
            "Matthew,Ashley,Anthony,Olivia,Mark,Hannah,Steven,Grace",
            "Smith,Johnson,Williams,Brown,Jones,Miller,Davis,Wilson,Anderson,Taylor,Thomas,"
            "Moore,Martin,Jackson,Thompson,White,Harris,Clark,Lewis,Robinson,Walker,Young,"
            "Allen,King,Wright,Scott,Green,Baker,Adams,Nelson,Hill,Campbell",
        ),
        (
            "de",
            "Lukas,Anna,Leon,Lea,Finn,Hannah,Jonas,Lena,Paul,Mia,Felix,Laura,Maximilian,"
            "Sophie,Jan,Marie,Tobias,Katharina,Jürgen,Sabine,Stefan,Claudia,Matthias,Julia",
            "Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Schulz,Hoffmann,"
            "Schäfer,Koch,Bauer,Richter,Klein,Wolf,Schröder,Neumann,Schwarz,Zimmermann,"
            "Braun,Krüger,Hofmann,Hartmann",
        ),
        (
            "fr",
            "Camille,Louis,Léa,Gabriel,Chloé,Hugo,Manon,Jules,Inès,Lucas,Sarah,Arthur,"
            "Juliette,Nathan,Émilie,Théo,Zoé,Antoine,Margaux,Julien",
            "Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau,Simon,"
            "Laurent,Lefèvre,Michel,Garcia,David,Bertrand,Roux,Vincent,Fournier",
        ),
        (
            "es",
            "Lucía,Hugo,Martina,Mateo,Sofía,Daniel,María,Pablo,Paula,Alejandro,Valeria,"
            "Javier,Carmen,Diego,Elena,Sergio,Ana,Carlos,Isabel,José",
            "García,Rodríguez,González,Fernández,López,Martínez,Sánchez,Pérez,Gómez,Martín,"
            "Jiménez,Ruiz,Hernández,Díaz,Moreno,Álvarez,Romero,Navarro,Torres,Domínguez",
        ),
        (
            "it",
            "Giulia,Francesco,Sofia,Alessandro,Aurora,Lorenzo,Giorgia,Matteo,Martina,Andrea,"
            "Chiara,Marco,Federica,Luca,Elisa",
            "Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Colombo,Ricci,Marino,Greco,Bruno,"
            "Gallo,Conti,De Luca,Costa",
        ),
        (
            "nl",
            "Daan,Emma,Sem,Julia,Lucas,Tess,Levi,Sophie,Finn,Anna,Milan,Saar,Thijs,Lotte,Bram",
            "de Jong,Jansen,de Vries,van den Berg,van Dijk,Bakker,Janssen,Visser,Smit,Meijer,"
            "de Boer,Mulder,de Groot,Bos,Vos",
        ),
        (
            "pt",
            "João,Maria,Pedro,Ana,Lucas,Juliana,Gabriel,Fernanda,Rafael,Beatriz,Guilherme,"
            "Larissa,Felipe,Camila,Bruno",
            "Silva,Santos,Oliveira,Souza,Rodrigues,Ferreira,Alves,Pereira,Lima,Gomes,Costa,"
            "Ribeiro,Martins,Carvalho,Almeida",
        ),
        (
            "in",
            "Aarav,Priya,Vivaan,Ananya,Arjun,Diya,Rohan,Kavya,Vikram,Sneha,Rahul,Pooja,"
            "Aditya,Neha,Karan",
            "Sharma,Patel,Singh,Kumar,Gupta,Reddy,Iyer,Nair,Mehta,Joshi,Rao,Shah,Das,Verma,Agarwal",
        ),
        (
            "jp",
            "Haruto,Yui,Sota,Hina,Yuto,Aoi,Ren,Sakura,Takumi,Mei,Kenji,Yuki,Daiki,Rin,Hiroshi",
            "Sato,Suzuki,Takahashi,Tanaka,Watanabe,Ito,Yamamoto,Nakamura,Kobayashi,Kato,"
            "Yoshida,Yamada,Sasaki,Yamaguchi,Matsumoto",
        ),
        (
            "ng",
            "Chinedu,Ngozi,Emeka,Aisha,Oluwaseun,Funmilayo,Ibrahim,Chiamaka,Tunde,Amara,"
            "Kelechi,Zainab,Babajide,Adaeze,Musa",
            "Okafor,Adeyemi,Okonkwo,Bello,Eze,Ibrahim,Nwosu,Adebayo,Obi,Abubakar,Okeke,"
            "Afolabi,Umar,Chukwu,Balogun",
        ),
        (
            "sv",
            "Erik,Anna,Lars,Karin,Johan,Maria,Anders,Eva,Per,Sara,Oskar,Elin",
            "Andersson,Johansson,Karlsson,Nilsson,Eriksson,Larsson,Olsson,Persson,Svensson,"
            "Gustafsson",
        ),
        (
            "pl",
            "Jan,Anna,Piotr,Katarzyna,Tomasz,Magdalena,Paweł,Agnieszka,Michał,Joanna",
            "Nowak,Kowalczyk,Wójcik,Kamińska,Lewandowski,Zielińska,Szymański,Woźniak,Dąbrowski,"
            "Kozłowska",
        ),
        (
            "ph",
            "Jose,Maria,Juan,Angelica,Mark,Kristine,Paolo,Jasmine,Rafael,Bea",
            "Santos,Reyes,Cruz,Bautista,Garcia,Mendoza,Ramos,Aquino,Villanueva,Dela Cruz",
        ),
    )
}
