"""The 1,000 most frequent letter trigrams of identifier words: telling `SomeClassName` from random letters.

Counted over the words (split at `_` and case changes, lower-cased) of every identifier in
CPython 3.11's standard library (`Lib/`, tests and site-packages left out); they cover 90 % of
the trigrams there, against 5.7 % of the trigrams of uniformly random letters.
"""

from __future__ import annotations

COMMON_TRIGRAMS = frozenset(
    """
    abe abi abl abo abs acc ace ach ack act acu add ade adi ady aft age ags ail ain ais ait ake ale ali
    all als alu ame amp anc and ang ann ans ant any ape api app ara arc ard are arg ari ark arn arr ars
    art ary asc ase ash ask ass ast asy ata atc ate atf ath ati ato att atu aul aus aut ava ave awi ays
    bac bal bar bas bef bel ber bic bin bit bje ble blo boo bou box bra bre bst buf bug bui but byt cac
    cal can cap cas cat cau cce ced cel cen cep ces cha che chi chu cia cif cii cim cir cka cke ckl cks
    cla cle clo cls clu cmd cod col com con coo cop cor cou cre cri cro cte cti cto cts cum cur cus cut
    cyr dar dat day ddr deb dec ded def del den dep der des det dex dge dia dic dif dig din dir dis dit
    dle dli doc doe dom don dot dou dow dra dre dth duc dul eac ead eak eam ean ear eas eat eba ebu eca
    ece eci eck eco ecs ect ecu ede edi eed eek een efa efe efi efo eft ega ege egi ela eld ele elf eli
    ell elp els ema emb eme emo emp ems ena enc end ene eng eno ens ent enu env eou epa epl epr ept equ
    era ere erf eri erm ern err ers ert erv erw esc ese esi esp ess est esu eta ete eth eti etr ets ett
    etu etw eve evi exa exc exe exi exp ext eys eyw fac fal fau fer ffe fff ffs fic fie fig fil fin fir
    fix fla fle flo fol for fou fra fro fse fte ful fun fut gat gen ger ges get gge ght gin gis git giv
    gle glo gna gno gra gre gro gth gum han har has hat hav hea hec hed hel hem hen her hes hic hil hin
    his hod hon hor hos hou how hre htt hun iab ial ian iat ibl ibr ibu ica ice ich ick ico ict ide idg
    idl idt ied iel ien ier ies iff ifi ify igh igi ign igu ike ila ild ile ili ill ils ilt ima ime imi
    imp ina inc ind ine inf ing ini ink inp ins int inu inv ion ipe ipt irc ire iro irs ise isi iso isp
    iss ist ita ite ith iti itl its itt ity ive ixe ize izo jec joi kag ked ken ket key kie kin kip kno
    kwa lab lac lag lan lar las lat lay lba lde lea lec led lef lem len ler les let lev lex lia lib lic
    lid lie lif lig lik lim lin lis lit liz lla llb lle lli llo lly loa lob loc log lon loo lor los low
    lse lso lte lti lts lud lue lus mac mai mak mal man map mar mas mat max may mbe med mem men meo mer
    mes met min mis mit mma mme mod mon mor mov mpa mpi mpl mpo mpr mpt msg mul mus nal nam nar nat nce
    nch ncl nco ncr nct nda nde ndi ndl ndo nds nec ned nee nen ner nes net new nex nfi nfo nge ngl ngs
    ngt nic nin nit nly nne nno nod non nor not now npu nse nsi nsp nst nta nte nth nti nto ntr nts nue
    num nva nve oad oba obj oca oce ock oco ocu ode odi ods odu oes off ogg oin oke oki old oli oll olo
    ols olu oma ome omm omp ona ond one onf ong onl onn ons ont onv ook ool oop oot ope opt opy ord ore
    ori ork orm ors ort ory ose osi ost ota ote oth oto oub oul oun oup our ous out ove owe own ows pac
    par pas pat pda pec ped pen per pes pic pil pin pip pit pla ple pli poi pol pon pop por pos ppe ppi
    ppl ppo pre pri pro pti pts pty put pyt qua que qui quo rab rac rai ral ram ran rap rar rat rav raw
    rce rch rcu rde rds rea rec red ree ref reg rel rem ren rep req res ret rev rge rgs rgu ria rib ric
    rid rie rig ril rin rip rit riz rma rmi rna rne rni rns roc rol rom ron roo rop ror rot rou row rre
    rri rro rse rsi rst rte rti rtl rts rty ruc rue run rve sag sam sav sca sci scr sea sec sed see sel
    sen sep seq ser ses set sha she sho sib sid sig sim sin sio sis sit siz ski sma soc sol som sor sou
    spa spe spl spo ssa sse ssi ssl sta std ste sti sto str sts stu sub sul sum sup sur swi sym syn sys
    tab tac tag tai tal tan tar tas tat tch tde tdo tea ted teg tem ten ter tes tex tfo tha the thi tho
    thr tia tic tif til tim tin tio tip tit tiv tle tli tly toc tok tom ton too top tor tpu tra tre tri
    tro tru try tte tto ttp ttr tup tur tut two typ ual ubl uct ude uen ues uff uil uir ula uld ule ull
    ult umb ume unc und uni unk unt uot upd upe upl upp urc ure url urn urr urs urt use usi ust ute utf
    uth uti uto utp utt utu val var ved vel ven ver vid vir wai war was way wee wer whe whi wid wil win
    wit wor wra wri xam xce xec xis xit xml xpr xte xtr yie ync you ype yri yst yte yth ywo zer zip zon
    """.split()
)
